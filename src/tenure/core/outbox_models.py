"""The outbox table: one row per message to a customer, written in the transaction that decided to send it."""

from __future__ import annotations

from django.db import models

TRANSACTIONAL = "transactional"


class MessageChannel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"
    CHAT = "chat", "Chat"
    PORTAL = "portal", "Portal"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    DEFERRED = "deferred", "Deferred"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed"


# The statuses a row may hold a timer in; failed and suppressed rows are final and never due.
# SENT rows are due only when the worker that sent them died before writing their `message.sent` event.
DUE_STATUSES = (MessageStatus.QUEUED, MessageStatus.DEFERRED, MessageStatus.SENDING, MessageStatus.SENT)


# A row in one of these waits for a worker: it has a `message.queued` event on the timeline. A row claimed
# to go out as it is queued gets none unless it is handed back to the queue.
WAITING = (MessageStatus.QUEUED, MessageStatus.DEFERRED)


class DeliveryStatus(models.TextChoices):
    """What the provider told us after it accepted the message (Twilio callbacks, bounce reports)."""

    UNKNOWN = "", "Unknown"
    DELIVERED = "delivered", "Delivered"
    UNDELIVERED = "undelivered", "Undelivered"
    BOUNCED = "bounced", "Bounced"
    DELAYED = "delayed", "Delayed"


class OutboundMessage(models.Model):
    """A message on its way to a customer.

    `send_after` is the timer column the outbox sweeper acts on: when to try (queued/deferred), when a
    claim on a `sending` row expires and the row is tried again, or, on a `sent` row, when to write its
    `message.sent` event if the worker that sent it died before doing so. Null once the row is final.
    """

    # Indexed by `outbox_customer_sent_idx`, which starts with the customer.
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    channel = models.CharField(max_length=10, choices=MessageChannel.choices)
    # "transactional" or a customers.Purpose value; only the latter count against caps and opt-outs.
    purpose = models.CharField(max_length=32)
    template = models.CharField(max_length=200, blank=True, default="")
    subject = models.CharField(max_length=300, blank=True, default="")
    body = models.TextField()
    # Where it goes; filled from the customer's identities at send time when left blank.
    recipient = models.CharField(max_length=254, blank=True, default="")
    # The Message-ID this one answers, for e-mail threading.
    in_reply_to = models.CharField(max_length=300, blank=True, default="")
    idempotency_key = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    # The e-mail Message-ID or the SMS provider's sid: how callbacks and bounce reports find the row.
    provider_id = models.CharField(max_length=300, blank=True, default="")
    delivery_status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, blank=True, default=DeliveryStatus.UNKNOWN
    )
    delivery_updated_at = models.DateTimeField(null=True, blank=True)
    # The timer: set while the row waits for a worker (or for its `message.sent` event), else empty.
    send_after = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # No index on `status` alone: while a large batch goes out its statistics lag behind (they say
        # "all queued" while half are sent), and PostgreSQL then read the cap ledger through it, 127 ms
        # a claim at 100,000 messages. The customer index serves the ledger; `send_after` is indexed
        # only where set, the rows waiting for a worker.
        # A timer only on rows still in play, so the claim can select on the timer alone: a status filter
        # beside it makes PostgreSQL guess (from missing or lagging statistics) that few rows match, and
        # it then sorts every due row instead of reading the first ones off the index.
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="outbox_idempotency_key_unique"),
            models.CheckConstraint(
                condition=models.Q(send_after__isnull=True) | models.Q(status__in=DUE_STATUSES),
                name="outbox_timer_only_while_due",
            ),
        ]
        # Each row is written four times on its way out (queued, claimed, sent, its event recorded), and
        # every index costs each write: keys are only compared whole, so none has a pattern-matching twin
        # (Django adds one to a unique or indexed text field on PostgreSQL).
        indexes = [
            models.Index(fields=["customer", "status", "sent_at"], name="outbox_customer_sent_idx"),
            models.Index(fields=["provider_id"], name="outbox_provider_idx"),
            models.Index(
                fields=["send_after"], name="outbox_due_idx", condition=models.Q(send_after__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to customer {self.customer_id}: {self.status}"

    @property
    def is_transactional(self) -> bool:
        return self.purpose == TRANSACTIONAL
