"""Reading an uploaded or local CSV file one row at a time, with the physical line each row starts on.

The file is decoded line by line rather than through one text wrapper, so a line that is not UTF-8 is
reported as an error on that line (and the rest of the file still reads) instead of ending the import,
and the number of bytes read so far is exact, which is what the progress bar shows.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from django.core.exceptions import ValidationError

# Excel and LibreOffice write a byte order mark in front of "CSV UTF-8" files.
_BOM = b"\xef\xbb\xbf"


class ImportRefused(ValidationError):
    """The file as a whole cannot be imported (bad header, not UTF-8 text); nothing was written."""


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    field: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "field": self.field, "message": self.message}

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.field}" if self.field else "")
        return f"{where}: {self.message}"


@dataclass(slots=True)
class CsvRow:
    line: int
    values: dict[str, str]
    # Set when the row cannot be used as it is (wrong number of fields, not UTF-8, a NUL byte).
    error: RowError | None = None


@dataclass
class Columns:
    """Which columns a file may have, which it must have, and other names accepted for some."""

    allowed: tuple[str, ...]
    required: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)

    def resolve(self, header: list[str]) -> list[str]:
        """Canonical column names for a header row, or ImportRefused naming the offending column."""
        names: list[str] = []
        for position, raw in enumerate(header, start=1):
            name = raw.strip().lower()
            name = self.aliases.get(name, name)
            if not name:
                raise ImportRefused({"header": f"column {position} has no name"})
            if name not in self.allowed:
                known = ", ".join(self.allowed)
                raise ImportRefused({"header": f"unknown column {raw.strip()!r} (known columns: {known})"})
            if name in names:
                raise ImportRefused({"header": f"column {raw.strip()!r} appears twice"})
            names.append(name)
        missing = [name for name in self.required if name not in names]
        if missing:
            raise ImportRefused({"header": f"missing required column {missing[0]!r}"})
        return names


class CsvRows:
    """Iterate a binary CSV stream as `CsvRow`s keyed by canonical column names.

    `bytes_read` grows as the file is consumed; blank lines are skipped.
    """

    def __init__(self, stream: BinaryIO, columns: Columns) -> None:
        self._stream = stream
        self._columns = columns
        self.bytes_read = 0
        self._line = 0
        self._bad_lines: dict[int, str] = {}
        self._reader = csv.reader(self._decoded_lines())
        self.header = self._read_header()

    def _decoded_lines(self) -> Iterator[str]:
        for raw in self._stream:
            self.bytes_read += len(raw)
            self._line += 1
            if self._line == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                self._bad_lines[self._line] = (
                    f"byte {exc.start + 1} of the line is not UTF-8; save the file as UTF-8 text"
                )
                text = raw.decode("utf-8", errors="replace")
            if "\x00" in text:
                self._bad_lines.setdefault(self._line, "the line contains a NUL byte")
                text = text.replace("\x00", "")
            yield text

    def _read_header(self) -> list[str]:
        try:
            header = next(self._reader)
        except StopIteration:
            raise ImportRefused({"file": "the file is empty; the first line must name the columns"}) from None
        except csv.Error as exc:
            raise ImportRefused({"header": f"line 1: {exc}"}) from None
        if 1 in self._bad_lines:
            raise ImportRefused({"file": f"line 1: {self._bad_lines[1]}"})
        return self._columns.resolve(header)

    def __iter__(self) -> Iterator[CsvRow]:
        header = self.header
        width = len(header)
        reader = self._reader
        bad_lines = self._bad_lines
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield CsvRow(start, {}, RowError(start, "", f"unreadable CSV: {exc}"))
                continue
            if not cells:
                continue
            if bad_lines:
                end = reader.line_num
                problem = next((bad_lines.pop(n) for n in range(start, end + 1) if n in bad_lines), None)
                if problem is not None:
                    yield CsvRow(start, {}, RowError(start, "", problem))
                    continue
            if len(cells) != width:
                if len(cells) == 1 and not cells[0].strip():
                    continue
                message = f"expected {width} fields as in the header, found {len(cells)}"
                yield CsvRow(start, {}, RowError(start, "", message))
                continue
            yield CsvRow(start, dict(zip(header, cells, strict=True)))
