"""The generic import path: any business's subscriptions and events as CSV, turned into a TimelineExtract.

subscriptions.csv: customer,start,end,monthly_value (end empty while it runs)
events.csv:        customer,time,type  (optional: channel, amount, nps, csat, response_hours,
                   minutes_late, hours_waiting, department, ref)

Subscriptions become timeline events the features understand: `customer.created` when the first one
starts, `subscription.started` (amount = monthly value), `plan.changed` for each later one and
`customer.lost` when the last one ends. Event types are used as event kinds, so a file that names its
events in Tenure's vocabulary (request.received, job.late, ...) feeds the same features as the app's
own timeline. Every problem is reported with its file and line; nothing is returned unless all lines
are good.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from tenure.insights.extract import CUSTOMERS_SCHEMA, NUMBER_KEYS, TimelineExtract, events_table

SUBSCRIPTION_COLUMNS = ("customer", "start", "end", "monthly_value")
EVENT_COLUMNS = ("customer", "time", "type")
OPTIONAL_TEXT = ("channel", "department", "ref")
MAX_ERRORS = 50


class GenericImportError(ValueError):
    """Lines of the CSV files that cannot be used; `errors` lists them all (up to MAX_ERRORS)."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        shown = "\n".join(errors[:MAX_ERRORS])
        more = f"\n... and {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else ""
        super().__init__(f"{len(errors)} problem(s) in the files:\n{shown}{more}")


@dataclass(frozen=True)
class _Subscription:
    line: int
    start: dt.datetime
    end: dt.datetime | None
    value: float


def parse_time(text: str) -> dt.datetime:
    """An ISO 8601 time with a zone (or a bare date, read as midnight UTC), in UTC."""
    value = text.strip()
    if not value:
        raise ValueError("is empty")
    if len(value) == 10:
        try:
            return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(0), tzinfo=dt.UTC)
        except ValueError:
            pass
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 time (e.g. 2024-03-01T09:30:00+00:00)") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"{value!r} has no time zone (add Z or an offset such as +01:00)")
    return parsed.astimezone(dt.UTC)


def _number(text: str, *, minimum: float | None = None) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a number") from None
    if not math.isfinite(value) or (minimum is not None and value < minimum):
        raise ValueError(f"{text.strip()!r} is out of range")
    return value


def _rows(path: Path, required: tuple[str, ...], errors: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row by lower-case column name); header problems go to `errors`."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                errors.append(f"{path.name}: the file is empty")
                return
            names = [name.strip().lower() for name in header]
            missing = [name for name in required if name not in names]
            if missing:
                errors.append(f"{path.name} line 1: missing column(s) {', '.join(missing)}")
                return
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(names):
                    errors.append(
                        f"{path.name} line {reader.line_num}: {len(row)} values for {len(names)} columns"
                    )
                    continue
                yield reader.line_num, dict(zip(names, row, strict=True))
    except UnicodeDecodeError as error:
        errors.append(f"{path.name}: not UTF-8 text ({error.reason} at byte {error.start})")
    except OSError as error:
        errors.append(f"{path.name}: cannot be read ({error.strerror})")


def _subscriptions(path: Path, errors: list[str], seen: set[str]) -> dict[str, list[_Subscription]]:
    """Good subscriptions by customer; `seen` gets every customer named, even on a bad line."""
    found: dict[str, list[_Subscription]] = {}
    for line, row in _rows(path, SUBSCRIPTION_COLUMNS, errors):
        where = f"{path.name} line {line}"
        customer = row["customer"].strip()
        seen.add(customer)
        if not customer:
            errors.append(f"{where}: customer is empty")
            continue
        try:
            start = parse_time(row["start"])
        except ValueError as error:
            errors.append(f"{where}: start {error}")
            continue
        end = None
        if row["end"].strip():
            try:
                end = parse_time(row["end"])
            except ValueError as error:
                errors.append(f"{where}: end {error}")
                continue
            if end < start:
                errors.append(f"{where}: end {row['end'].strip()} is before start {row['start'].strip()}")
                continue
        try:
            value = _number(row["monthly_value"], minimum=0)
        except ValueError as error:
            errors.append(f"{where}: monthly_value {error}")
            continue
        found.setdefault(customer, []).append(_Subscription(line, start, end, value))
    for customer, subscriptions in found.items():
        subscriptions.sort(key=lambda item: item.start)
        for earlier, later in itertools.pairwise(subscriptions):
            if earlier.end is None or earlier.end > later.start:
                errors.append(
                    f"{path.name} line {later.line}: subscription of customer {customer!r} overlaps "
                    f"the one on line {earlier.line}"
                )
    return found


def _events(
    path: Path, known: set[str] | None, errors: list[str]
) -> list[tuple[str, str, dt.datetime, dict[str, Any]]]:
    found: list[tuple[str, str, dt.datetime, dict[str, Any]]] = []
    for line, row in _rows(path, EVENT_COLUMNS, errors):
        where = f"{path.name} line {line}"
        customer, kind = row["customer"].strip(), row["type"].strip()
        if not customer:
            errors.append(f"{where}: customer is empty")
            continue
        if known is not None and customer not in known:
            errors.append(f"{where}: unknown customer {customer!r} (not in the subscriptions file)")
            continue
        if not kind:
            errors.append(f"{where}: type is empty")
            continue
        try:
            at = parse_time(row["time"])
        except ValueError as error:
            errors.append(f"{where}: time {error}")
            continue
        extra: dict[str, Any] = {name: row[name].strip() or None for name in OPTIONAL_TEXT if name in row}
        try:
            for name in NUMBER_KEYS:
                if row.get(name, "").strip():
                    extra[name] = _number(row[name])
        except ValueError as error:
            errors.append(f"{where}: {name} {error}")
            continue
        found.append((customer, kind, at, extra))
    return found


def _event_row(customer_id: int, kind: str, at: dt.datetime, extra: dict[str, Any]) -> tuple[Any, ...]:
    numbers = [extra.get(name) for name in NUMBER_KEYS]
    return (customer_id, kind, at, extra.get("channel"), *numbers, extra.get("department"), extra.get("ref"))


def extract_from_csv(subscriptions: Path | None, events: Path | None) -> TimelineExtract:
    """Read the generic CSV files into an extract; GenericImportError names every bad line."""
    if subscriptions is None and events is None:
        raise ValueError("give a subscriptions file, an events file, or both")
    errors: list[str] = []
    named: set[str] = set()
    plans = _subscriptions(Path(subscriptions), errors, named) if subscriptions is not None else None
    known = named if plans is not None else None
    happenings = _events(Path(events), known, errors) if events is not None else []
    if errors:
        raise GenericImportError(errors)
    keys = list(plans) if plans is not None else list(dict.fromkeys(item[0] for item in happenings))
    if not keys:
        raise GenericImportError(["the files hold no customers"])
    ids = {key: index for index, key in enumerate(keys, start=1)}

    rows: list[tuple[Any, ...]] = []
    first: dict[str, dt.datetime] = {}
    lost: dict[str, dt.datetime] = {}
    for key, kind, at, extra in happenings:
        rows.append(_event_row(ids[key], kind, at, extra))
        first[key] = min(first.get(key, at), at)
        if kind == "customer.lost":
            lost[key] = max(lost.get(key, at), at)
    for key, periods in (plans or {}).items():
        first[key] = min(first.get(key, periods[0].start), periods[0].start)
        for index, plan in enumerate(periods):
            kind = "subscription.started" if index == 0 else "plan.changed"
            rows.append(_event_row(ids[key], kind, plan.start, {"amount": plan.value}))
        final_end = periods[-1].end
        if final_end is not None:
            lost[key] = final_end
            rows.append(_event_row(ids[key], "customer.lost", final_end, {}))
    created = {key for key, kind, _, _ in happenings if kind == "customer.created"}
    for key, joined in first.items():
        if key not in created:
            rows.append(_event_row(ids[key], "customer.created", joined, {}))

    customers = pa.Table.from_pylist(
        [
            {
                "customer_id": ids[key],
                "joined_at": first[key],
                "lifecycle": "lost" if key in lost else "active",
                "lost_at": lost.get(key),
                "lost_reason": None,
                "kind": "person",
            }
            for key in keys
        ],
        schema=CUSTOMERS_SCHEMA,
    ).append_column("external_ref", pa.array(keys, pa.string()))
    return TimelineExtract(events=events_table(rows), customers=customers)
