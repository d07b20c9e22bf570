"""The CDNOW sample (Fader & Hardie's customer-base-analysis data) as a timeline extract.

Used by the tests and bench/clv.py to check the customer-value models against the published figures.
The file has one line per purchase: master id, sample id, yyyymmdd, number of CDs, dollars.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa

from .extract import CUSTOMERS_SCHEMA, EVENTS_SCHEMA, TimelineExtract

CALIBRATION_END = dt.datetime(1997, 10, 1, tzinfo=dt.UTC)  # weeks 1-39 are 1997-01-01 .. 1997-09-30
HOLDOUT_END = dt.datetime(1998, 7, 1, tzinfo=dt.UTC)  # weeks 40-78 are 1997-10-01 .. 1998-06-30


def read_cdnow_sample(path: Path) -> TimelineExtract:
    """Each purchase as an order.placed event (at midnight UTC of its day) of customer = sample id."""
    table = np.loadtxt(path, dtype=np.float64, ndmin=2)
    if table.shape[1] != 5:
        raise ValueError(
            f"{path}: expected 5 columns (id, sample id, date, CDs, dollars), got {table.shape[1]}"
        )
    ids = table[:, 1].astype(np.int64)
    dates = table[:, 2].astype(np.int64)
    days = np.array(
        [dt.date(int(d) // 10000, int(d) // 100 % 100, int(d) % 100).toordinal() for d in dates],
        dtype=np.int64,
    )
    epoch = dt.date(1970, 1, 1).toordinal()
    micros = (days - epoch) * 86_400_000_000
    n = ids.size
    columns = {field.name: pa.nulls(n, field.type) for field in EVENTS_SCHEMA}
    columns["customer_id"] = pa.array(ids)
    columns["kind"] = pa.array(["order.placed"] * n)
    columns["occurred_at"] = pa.array(micros, type=EVENTS_SCHEMA.field("occurred_at").type)
    columns["amount"] = pa.array(table[:, 4])
    events = pa.Table.from_pydict(columns, schema=EVENTS_SCHEMA)
    customers = pa.Table.from_pydict(
        {field.name: pa.nulls(0, field.type) for field in CUSTOMERS_SCHEMA}, schema=CUSTOMERS_SCHEMA
    )
    return TimelineExtract(events, customers)
