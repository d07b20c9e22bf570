"""Turns stored insight snapshots and scores into what the dashboard page and the HTML report show."""

from __future__ import annotations

from typing import Any

from tenure.insights import selectors


def build_context() -> dict[str, Any]:
    return {
        "risk": selectors.risk_summary(),
        "model": selectors.active_model(),
        "target": selectors.current_target(),
    }
