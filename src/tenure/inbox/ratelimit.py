"""Fixed-window rate limits counted in the database, so every web process and worker shares the count."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from tenure.inbox.models import RateLimitHit


def _window_start(now: dt.datetime, seconds: int) -> dt.datetime:
    epoch = int(now.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % seconds, tz=dt.UTC)


def hit(key: str, *, limit: int, window_seconds: int, now: dt.datetime | None = None) -> bool:
    """Count one hit for `key`; False when it is over `limit` in the current window."""
    start = _window_start(now or timezone.now(), window_seconds)
    with transaction.atomic():
        # UPDATE … SET count = count + 1 is atomic per row, on PostgreSQL and SQLite alike.
        updated = RateLimitHit.objects.filter(key=key, window_start=start).update(count=F("count") + 1)
        if not updated:
            try:
                with transaction.atomic():
                    RateLimitHit.objects.create(key=key, window_start=start, count=1)
            except IntegrityError:
                RateLimitHit.objects.filter(key=key, window_start=start).update(count=F("count") + 1)
        count = RateLimitHit.objects.filter(key=key, window_start=start).values_list("count", flat=True).get()
        # Old windows are never read again.
        RateLimitHit.objects.filter(window_start__lt=start - dt.timedelta(seconds=window_seconds)).delete()
    return count <= limit
