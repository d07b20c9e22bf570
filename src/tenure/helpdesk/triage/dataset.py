"""Labelled rows (text, label) from a CSV file, with errors that name the file and the line."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

REQUIRED = ("text", "label")


class DatasetError(ValueError):
    """A CSV file that cannot be used, with the file and line in the message."""


@dataclass(frozen=True)
class LabelledRows:
    texts: list[str]
    labels: list[str]


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        byte = raw[error.start : error.start + 1].hex()
        raise DatasetError(
            f"{path} line {line}: not UTF-8 text (byte 0x{byte}); save the file as UTF-8 and retry"
        ) from None


def read_labelled_csv(path: Path | str) -> LabelledRows:
    """Every row's `text` and `label`; other columns are ignored. Empty texts or labels are errors."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DatasetError(f"{path}: cannot read the file ({error.strerror})") from None
    content = _decode(path, raw)
    if not content.strip():
        raise DatasetError(f"{path}: the file is empty (expected a header line with columns text,label)")
    reader = csv.DictReader(io.StringIO(content, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    reader.fieldnames = header
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        raise DatasetError(
            f"{path} line 1: missing column(s) {', '.join(missing)}; the header has {', '.join(header) or 'nothing'}"
        )
    texts: list[str] = []
    labels: list[str] = []
    try:
        for row in reader:
            line = reader.line_num
            text, label = row.get("text"), row.get("label")
            if text is None or label is None:
                raise DatasetError(
                    f"{path} line {line}: too few fields (expected columns {', '.join(header)})"
                )
            if not text.strip():
                raise DatasetError(f"{path} line {line}: empty text")
            if not label.strip():
                raise DatasetError(f"{path} line {line}: empty label")
            texts.append(text.strip())
            labels.append(label.strip())
    except csv.Error as error:
        raise DatasetError(f"{path} line {reader.line_num}: malformed CSV ({error})") from None
    if not texts:
        raise DatasetError(f"{path}: a header but no rows")
    return LabelledRows(texts, labels)
