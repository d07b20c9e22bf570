"""Sending a batch over several connections at once (`TENURE_OUTBOX_CONNECTIONS`). A provider across a
network spends most of each message's time answering; lanes overlap those waits. Shown against a real SMTP
server that holds the first message until a second connection has one in hand too."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from tenure.core.models import Event
from tenure.core.outbox.delivery import deliver_due
from tenure.core.outbox.services import queue_message
from tenure.core.outbox_models import TRANSACTIONAL, OutboundMessage
from tenure.customers.services import create_customer
from tests.loopback import ReceivedMail, running_smtp

# Long enough for a second lane to connect; the single-lane test waits this long once.
GATE_SECONDS = 2.0


class OverlapGate(ReceivedMail):
    """Counts messages in the server's hands at once; the first one is held until a second arrives (or
    GATE_SECONDS pass), so one connection at a time can never show two."""

    def __init__(self) -> None:
        super().__init__()
        self.in_hand = 0
        self.most_in_hand = 0
        self.sessions: set[int] = set()
        self.gated = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sessions.add(id(session))
        self.in_hand += 1
        self.most_in_hand = max(self.most_in_hand, self.in_hand)
        if not self.gated:
            self.gated = True
            loop = asyncio.get_running_loop()
            deadline = loop.time() + GATE_SECONDS
            while self.most_in_hand < 2 and loop.time() < deadline:
                await asyncio.sleep(0.01)
        self.in_hand -= 1
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def gate(settings: SettingsWrapper) -> Iterator[OverlapGate]:
    with running_smtp(OverlapGate(), settings) as handler:
        assert isinstance(handler, OverlapGate)
        yield handler


def queue_receipts(count: int) -> list[OutboundMessage]:
    return [
        queue_message(
            customer=create_customer(name=f"Customer {n}", identities=[("email", f"c{n}@customer.example")]),
            purpose=TRANSACTIONAL,
            idempotency_key=f"receipt:{n}",
            channel="email",
            subject=f"Receipt {n}",
            body="Thanks for your order.",
        )
        for n in range(count)
    ]


# Lanes open database connections of their own, which see only committed rows.
@pytest.mark.django_db(transaction=True)
def test_lanes_send_a_batch_over_several_connections_at_once_each_message_once(
    gate: OverlapGate, settings: SettingsWrapper
) -> None:
    settings.TENURE_OUTBOX_CONNECTIONS = 3
    messages = queue_receipts(9)

    assert deliver_due(timezone.now()) == 9

    assert gate.most_in_hand >= 2
    assert len(gate.sessions) >= 2
    assert sorted(m["Subject"] for m in gate.messages) == sorted(f"Receipt {n}" for n in range(9))
    assert set(OutboundMessage.objects.values_list("status", flat=True)) == {"sent"}
    assert OutboundMessage.objects.filter(send_after__isnull=False).count() == 0
    sent_events = Event.objects.filter(kind="message.sent")
    assert sorted(sent_events.values_list("payload__message_id", flat=True)) == sorted(m.pk for m in messages)
    assert deliver_due(timezone.now()) == 0


@pytest.mark.django_db(transaction=True)
def test_one_lane_sends_one_message_at_a_time(gate: OverlapGate, settings: SettingsWrapper) -> None:
    settings.TENURE_OUTBOX_CONNECTIONS = 1
    queue_receipts(3)

    assert deliver_due(timezone.now()) == 3

    assert gate.most_in_hand == 1
    assert len(gate.sessions) == 1
    assert len(gate.messages) == 3
