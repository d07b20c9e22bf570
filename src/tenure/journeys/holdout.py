"""Holdouts: a fixed share of each journey's customers is enrolled but sent nothing, to measure the effect."""

from __future__ import annotations

import hashlib


def is_holdout(customer_id: int, journey_key: str, percent: int) -> bool:
    """Deterministic per (customer, journey): the same customer is always on the same side of one journey."""
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"{journey_key}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < percent * 100
