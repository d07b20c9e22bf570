"""Turn the analytics' dataclasses into JSON-ready dicts (dates as ISO text, numpy scalars as Python)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    return value


class JsonMixin:
    """`to_dict()` for a dataclass: what pages, charts, the report and InsightSnapshot store."""

    def to_dict(self) -> dict[str, Any]:
        result = jsonable(self)
        assert isinstance(result, dict)
        return result
