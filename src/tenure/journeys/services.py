"""Every write of the journeys app. Callers own the transaction."""

from __future__ import annotations

from tenure.journeys.enrolling import enroll, enroll_many

__all__ = ["enroll", "enroll_many"]
