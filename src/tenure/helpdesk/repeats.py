"""Repeat contacts: a new contact about a matter the customer already raised and that is still open.

Within `repeat_window_days` of an open request's last message, the new text is compared with the
request's subject and first message by cosine similarity of sentence embeddings (the packaged MiniLM,
tenure.helpdesk.triage.embeddings); at `repeat_similarity` or above it is the same matter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from tenure.customers.models import Customer
from tenure.helpdesk.conf import current
from tenure.helpdesk.models import OPEN_STATUSES, Direction, Request, RequestMessage
from tenure.helpdesk.triage import embeddings

MAX_CANDIDATES = 5
MAX_CHARS = 1000


@dataclass(frozen=True)
class Match:
    request: Request
    similarity: float


def request_text(request: Request) -> str:
    first = (
        RequestMessage.objects.filter(request=request, direction=Direction.INBOUND)
        .order_by("created_at", "id")
        .values_list("body", flat=True)
        .first()
    )
    return f"{request.subject}\n{first or ''}"[:MAX_CHARS]


def candidates(customer: Customer, at: dt.datetime) -> list[Request]:
    window = dt.timedelta(days=current().repeat_window_days)
    return list(
        Request.objects.filter(
            customer=customer,
            status__in=OPEN_STATUSES,
            merged_into__isnull=True,
            last_message_at__gte=at - window,
        )
        .select_related("department")
        .order_by("-last_message_at")[:MAX_CANDIDATES]
    )


def find_repeat(customer: Customer, text: str, at: dt.datetime) -> tuple[Match | None, np.ndarray | None]:
    """The open request this text is about, if any, and the text's embedding (None if none was needed)."""
    open_requests = candidates(customer, at)
    if not open_requests or not text.strip():
        return None, None
    vectors = embeddings.embed([text[:MAX_CHARS], *(request_text(r) for r in open_requests)])
    similarities = vectors[1:] @ vectors[0]
    best = int(np.argmax(similarities))
    score = float(similarities[best])
    if score >= current().repeat_similarity:
        return Match(open_requests[best], round(score, 4)), vectors[0]
    return None, vectors[0]
