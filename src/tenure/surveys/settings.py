"""Survey timing: Django settings when set (tests override them), else the environment, else a default."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

# The promise in the product: a finished job is followed up within 15 minutes.
JOB_FOLLOW_UP_LIMIT = dt.timedelta(minutes=15)


def _number(name: str, default: float) -> float:
    raw: object = getattr(django_settings, name, None)
    if raw is None:
        raw = os.environ.get(name, default)
    try:
        value = float(str(raw))
    except (TypeError, ValueError) as error:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from error
    if value < 0:
        raise ImproperlyConfigured(f"{name} must not be negative")
    return value


@dataclass(frozen=True)
class SurveySettings:
    request_delay: dt.timedelta
    job_delay: dt.timedelta
    answer_window: dt.timedelta
    public_url: str


def current() -> SurveySettings:
    job_delay = dt.timedelta(minutes=_number("TENURE_SURVEY_JOB_DELAY_MINUTES", 5))
    if job_delay > JOB_FOLLOW_UP_LIMIT:
        raise ImproperlyConfigured("TENURE_SURVEY_JOB_DELAY_MINUTES must be at most 15")
    public_url = getattr(django_settings, "TENURE_PUBLIC_URL", None) or os.environ.get(
        "TENURE_PUBLIC_URL", "http://localhost:8000"
    )
    return SurveySettings(
        request_delay=dt.timedelta(minutes=_number("TENURE_SURVEY_REQUEST_DELAY_MINUTES", 60)),
        job_delay=job_delay,
        answer_window=dt.timedelta(days=_number("TENURE_SURVEY_ANSWER_DAYS", 7)),
        public_url=str(public_url).rstrip("/"),
    )
