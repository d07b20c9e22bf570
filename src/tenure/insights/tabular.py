"""Read a one-row-per-customer table and decide, from the data alone, what each column is.

No column names are special except the label the user names. A column is:
- numeric when every non-missing value parses as a number;
- an id (dropped) when every row has a different value and the values are text or whole numbers;
- constant or empty (dropped) when it cannot tell customers apart;
- categorical otherwise, with its rarest levels pooled so a free-text column cannot explode the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

MISSING_TOKENS = ("", "na", "n/a", "nan", "null", "none", "?", "-")
POSITIVE_LABELS = ("1", "1.0", "yes", "y", "true", "t", "churn", "churned", "lost", "left", "leaver")
NEGATIVE_LABELS = ("0", "0.0", "no", "n", "false", "f", "stay", "stayed", "active", "retained", "kept")
MAX_LEVELS = 30
MIN_ID_ROWS = 20


class TableError(ValueError):
    """The table cannot be used as it is; the message names the column or line."""


@dataclass
class Categorical:
    codes: np.ndarray  # int32, -1 where missing
    levels: list[str]


@dataclass
class Table:
    labels: np.ndarray  # int8 0/1
    numeric: dict[str, np.ndarray] = field(default_factory=dict)  # float64, NaN where missing
    categorical: dict[str, Categorical] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)  # column -> why

    @property
    def rows(self) -> int:
        return int(self.labels.size)

    def describe_columns(self) -> dict[str, object]:
        return {
            "numeric": list(self.numeric),
            "categorical": list(self.categorical),
            "dropped": dict(self.dropped),
        }


def _clean(column: pl.Series) -> pl.Series:
    text = column.cast(pl.String).str.strip_chars()
    missing = text.str.to_lowercase().is_in(list(MISSING_TOKENS)).fill_null(True)
    return text.zip_with(~missing, pl.Series(column.name, [None] * len(text), dtype=pl.String))


def parse_labels(column: pl.Series) -> np.ndarray:
    """0/1 from the label column's two values (yes/no, true/false, 1/0, churned/active ...)."""
    cleaned = _clean(column)
    if cleaned.null_count():
        line = int(cleaned.is_null().arg_true()[0]) + 2  # +1 for the header, +1 for counting from 1
        raise TableError(f"label column {column.name!r} is empty on line {line}")
    lowered = cleaned.str.to_lowercase()
    values = set(lowered.unique().to_list())
    positive = values & set(POSITIVE_LABELS)
    negative = values & set(NEGATIVE_LABELS)
    unknown = values - positive - negative
    if unknown or len(positive) != 1 or len(negative) != 1:
        shown = ", ".join(sorted(values)[:5])
        raise TableError(
            f"label column {column.name!r} must hold two values such as yes/no or 1/0 (leaver/stayer); found {shown}"
        )
    return (lowered == positive.pop()).to_numpy().astype(np.int8)


def _as_numbers(column: pl.Series) -> pl.Series | None:
    numbers = column.cast(pl.Float64, strict=False)
    if numbers.null_count() != column.null_count():
        return None
    return numbers


def _categorical(column: pl.Series) -> Categorical:
    counts = column.drop_nulls().value_counts(sort=True)
    levels = [str(v) for v in counts[column.name].to_list()[:MAX_LEVELS]]
    index = {level: i for i, level in enumerate(levels)}
    other = len(levels)
    pooled = len(counts) > MAX_LEVELS
    if pooled:
        levels.append("(other)")
    codes = np.array([-1 if v is None else index.get(v, other) for v in column.to_list()], dtype=np.int32)
    return Categorical(codes, levels)


def type_columns(frame: pl.DataFrame, label: str) -> Table:
    """Split a text-typed frame into labels, numeric and categorical columns (see the module docstring)."""
    if label not in frame.columns:
        raise TableError(f"no column {label!r}; the table has {', '.join(frame.columns)}")
    if frame.height == 0:
        raise TableError("the table has no rows")
    table = Table(labels=parse_labels(frame[label]))
    for name in frame.columns:
        if name == label:
            continue
        column = _clean(frame[name])
        present = column.drop_nulls()
        distinct = present.n_unique()
        if distinct <= 1:
            table.dropped[name] = "empty" if present.is_empty() else "constant"
            continue
        numbers = _as_numbers(column)
        whole = numbers is not None and bool((numbers.drop_nulls() % 1 == 0).all())
        if frame.height >= MIN_ID_ROWS and distinct == frame.height and (numbers is None or whole):
            table.dropped[name] = "id"
            continue
        if numbers is not None:
            table.numeric[name] = numbers.fill_null(np.nan).to_numpy().astype(np.float64)
        else:
            table.categorical[name] = _categorical(column)
    if not table.numeric and not table.categorical:
        raise TableError("no usable columns besides the label")
    return table


def read_table(path: Path, label: str) -> Table:
    """Read a CSV table (header row, one customer per row) and type its columns."""
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise TableError(f"cannot read {path}: {error}") from error
    return type_columns(frame, label)
