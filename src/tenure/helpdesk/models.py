"""Requests (tickets), their messages, and the configuration that triages, routes and times them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class RequestChannel(models.TextChoices):
    EMAIL = "email", "E-mail"
    WEB = "web", "Web form"
    CHAT = "chat", "Live chat"
    SMS = "sms", "SMS"
    PHONE = "phone", "Phone"
    WEBHOOK = "webhook", "Webhook"


class Status(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    WAITING = "waiting", "Waiting on customer"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


# The statuses in which a request still needs the business to act (the SLA clocks run in new and open).
OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.WAITING)
DONE_STATUSES = (Status.RESOLVED, Status.CLOSED)
_OPEN = Q(status__in=["new", "open", "waiting"])


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class Urgency(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"


class Sentiment(models.TextChoices):
    NEGATIVE = "negative", "Negative"
    NEUTRAL = "neutral", "Neutral"
    POSITIVE = "positive", "Positive"


class TriageSource(models.TextChoices):
    NONE = "", "Not triaged"
    RULE = "rule", "Rule"
    CLASSIFIER = "classifier", "Classifier"
    AGENT = "agent", "Agent"


class Department(models.Model):
    """Who answers a kind of request: billing, service, scheduling, sales, general information, complaint."""

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    team = models.ForeignKey("core.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Told about SLA warnings and breaches of this department's requests, beside the assignee.
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class RequestTag(models.Model):
    name = models.CharField(max_length=50, unique=True)

    def __str__(self) -> str:
        return self.name


class SlaPolicy(models.Model):
    """Targets in business hours for requests matching priority, department and customer tier.

    A blank field matches anything; the most specific matching policy wins, then the lowest position.
    """

    name = models.CharField(max_length=100)
    priority = models.CharField(max_length=10, choices=Priority.choices, blank=True, default="")
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.CASCADE)
    tier = models.CharField(max_length=20, blank=True, default="")
    first_response_minutes = models.PositiveIntegerField()
    resolution_minutes = models.PositiveIntegerField()
    # Hours to count in; without one, the department team's calendar, else around the clock.
    calendar = models.ForeignKey("core.BusinessCalendar", null=True, blank=True, on_delete=models.SET_NULL)
    position = models.PositiveIntegerField(default=100)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"

    def __str__(self) -> str:
        return self.name


class Request(models.Model):
    """One matter a customer raised, on any number of channels and messages."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="requests")
    subject = models.CharField(max_length=300, blank=True, default="")
    channel = models.CharField(max_length=10, choices=RequestChannel.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.NORMAL)
    sentiment = models.CharField(max_length=10, choices=Sentiment.choices, default=Sentiment.NEUTRAL)
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.SET_NULL, related_name="requests"
    )
    team = models.ForeignKey("core.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="helpdesk_requests",
    )
    tags = models.ManyToManyField(RequestTag, blank=True, related_name="requests")

    # Triage: where the department came from; below the classifier's threshold it waits in the queue.
    triage_source = models.CharField(
        max_length=12, choices=TriageSource.choices, blank=True, default=TriageSource.NONE
    )
    triage_confidence = models.FloatField(null=True, blank=True)
    needs_triage = models.BooleanField(default=False)

    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)
    last_message_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    auto_resolved = models.BooleanField(default=False)
    closed_at = models.DateTimeField(null=True, blank=True)
    reopened_count = models.PositiveIntegerField(default=0)
    repeat_contacts = models.PositiveIntegerField(default=0)

    # SLA: deadlines stored on the request; the warning instants are 75% of the way there.
    sla_policy = models.ForeignKey(SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL)
    first_response_due = models.DateTimeField(null=True, blank=True)
    first_response_warn_at = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True)
    resolution_warn_at = models.DateTimeField(null=True, blank=True)
    sla_paused_at = models.DateTimeField(null=True, blank=True)
    first_response_breached_at = models.DateTimeField(null=True, blank=True)
    resolution_breached_at = models.DateTimeField(null=True, blank=True)
    # The earliest deadline still running; what "due soon" sorts by. Null when no clock runs.
    next_due_at = models.DateTimeField(null=True, blank=True)

    # Timer columns (see core.sweeper): each is cleared once its step is done.
    sla_check_at = models.DateTimeField(null=True, blank=True)
    ack_due_at = models.DateTimeField(null=True, blank=True)
    ack_sent_at = models.DateTimeField(null=True, blank=True)
    assignment_due_at = models.DateTimeField(null=True, blank=True)

    linked_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups"
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_requests"
    )

    class Meta:
        ordering = ["-last_message_at", "-id"]
        permissions = [
            ("work_request", "Can answer, assign and change requests"),
            ("manage_helpdesk", "Can see help desk reports and merge or split requests"),
        ]
        # Partial indexes over the open requests, in each saved view's order, so a first page reads 50
        # index entries instead of sorting every open request (see selectors.requests_for_view).
        indexes = [
            models.Index(
                fields=["assignee", "-last_message_at", "-id"], condition=_OPEN, name="hd_request_mine_idx"
            ),
            models.Index(
                fields=["team", "-last_message_at", "-id"], condition=_OPEN, name="hd_request_team_idx"
            ),
            models.Index(fields=["-last_message_at", "-id"], condition=_OPEN, name="hd_request_open_idx"),
            models.Index(
                fields=["next_due_at", "id"],
                condition=_OPEN & Q(next_due_at__isnull=False),
                name="hd_request_due_idx",
            ),
            models.Index(fields=["-last_message_at", "-id"], name="hd_request_all_idx"),
            models.Index(fields=["customer", "status", "-last_message_at"], name="hd_request_customer_idx"),
            models.Index(
                fields=["-last_message_at", "-id"],
                condition=_OPEN & Q(needs_triage=True),
                name="hd_request_triage_idx",
            ),
            models.Index(
                fields=["-last_message_at", "-id"],
                condition=_OPEN & Q(assignee__isnull=True),
                name="hd_request_unassigned_idx",
            ),
            models.Index(
                fields=["-last_message_at", "-id"],
                condition=_OPEN
                & (Q(first_response_breached_at__isnull=False) | Q(resolution_breached_at__isnull=False)),
                name="hd_request_breached_idx",
            ),
            models.Index(fields=["sla_check_at"], name="hd_request_sla_timer_idx"),
            models.Index(fields=["ack_due_at"], name="hd_request_ack_timer_idx"),
            models.Index(fields=["assignment_due_at"], name="hd_request_assign_timer_idx"),
            models.Index(fields=["created_at"], name="hd_request_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.subject}"

    @property
    def reference(self) -> str:
        return f"R-{self.pk:06d}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class Direction(models.TextChoices):
    INBOUND = "in", "From the customer"
    OUTBOUND = "out", "To the customer"
    NOTE = "note", "Internal note"


class RequestMessage(models.Model):
    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=4, choices=Direction.choices)
    channel = models.CharField(max_length=10, choices=RequestChannel.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sender = models.CharField(max_length=254, blank=True, default="")
    subject = models.CharField(max_length=300, blank=True, default="")
    body = models.TextField(blank=True, default="")
    # Sanitised HTML (nh3); the plain body is what agents and the classifier read.
    html = models.TextField(blank=True, default="")
    # The channel's own id (e-mail Message-ID, SMS sid, ...); unique per channel, used for threading.
    external_id = models.CharField(max_length=300, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    outbound = models.ForeignKey(
        "core.OutboundMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=~Q(external_id=""),
                name="hd_message_external_id_once",
            )
        ]
        indexes = [
            models.Index(fields=["request", "created_at", "id"], name="hd_message_thread_idx"),
            models.Index(fields=["external_id"], name="hd_message_external_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.channel} on request {self.request_id}"


class Attachment(models.Model):
    """A file that came with a message; a refused one keeps its name, size and the reason, not its data."""

    message = models.ForeignKey(RequestMessage, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, blank=True, default="")
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, blank=True, default="")
    stored_name = models.CharField(max_length=300, blank=True, default="")
    refused_reason = models.CharField(max_length=200, blank=True, default="")

    def __str__(self) -> str:
        return self.filename


class Callback(models.Model):
    """A call-back promised to a customer: due time, owner, a reminder before, overdue once past."""

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="callbacks")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_at = models.DateTimeField()
    # Timer column: when to remind the owner; cleared once reminded or done.
    remind_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    phone = models.CharField(max_length=40, blank=True, default="")
    note = models.TextField(blank=True, default="")
    done_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(done_at__isnull=True), name="hd_callback_open_idx"),
            models.Index(fields=["remind_at"], name="hd_callback_remind_idx"),
        ]

    def __str__(self) -> str:
        return f"call-back for request {self.request_id} due {self.due_at:%Y-%m-%d %H:%M}"


class TriageRule(models.Model):
    """Admin-editable routing, tried in position order before the classifier; the first match decides."""

    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=100)
    active = models.BooleanField(default=True)
    # Conditions (all given ones must hold): any of the comma-separated keywords, a regex, a channel,
    # text in the sender address.
    keywords = models.CharField(max_length=500, blank=True, default="")
    regex = models.CharField(max_length=500, blank=True, default="")
    channel = models.CharField(max_length=10, choices=RequestChannel.choices, blank=True, default="")
    sender_contains = models.CharField(max_length=200, blank=True, default="")
    # Outcomes (blank: leave as is).
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.CASCADE)
    priority = models.CharField(max_length=10, choices=Priority.choices, blank=True, default="")
    urgency = models.CharField(max_length=10, choices=Urgency.choices, blank=True, default="")

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class TriageModel(models.Model):
    """A classifier trained on the business's own resolved requests, stored as JSON data."""

    created_at = models.DateTimeField(auto_now_add=True)
    active = models.BooleanField(default=True)
    model = models.JSONField()
    trained_rows = models.PositiveIntegerField()
    metrics = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"triage model {self.pk} ({self.trained_rows} rows)"


class Macro(models.Model):
    """A canned reply (Django template syntax over plain values) plus optional changes to the request."""

    name = models.CharField(max_length=100, unique=True)
    body = models.TextField()
    set_status = models.CharField(max_length=10, choices=Status.choices, blank=True, default="")
    set_priority = models.CharField(max_length=10, choices=Priority.choices, blank=True, default="")
    add_tags = models.CharField(max_length=300, blank=True, default="", help_text="comma-separated")
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class AcknowledgementTemplate(models.Model):
    """The written acknowledgement; one per channel, or a blank channel for all others."""

    channel = models.CharField(max_length=10, choices=RequestChannel.choices, blank=True, unique=True)
    subject = models.CharField(max_length=300, blank=True, default="")
    body = models.TextField()

    def __str__(self) -> str:
        return f"acknowledgement ({self.channel or 'default'})"


class AgentProfile(models.Model):
    """Whether an agent takes new requests, how many open ones at most, and which departments (skills)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile"
    )
    available = models.BooleanField(default=True)
    max_open = models.PositiveIntegerField(default=25)
    # Empty: takes any department.
    departments = models.ManyToManyField(Department, blank=True, related_name="agents")
    last_assigned_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"agent {self.user}"


class StaffNotification(models.Model):
    """Something a staff member must see: an SLA warning or breach, a call-back reminder."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)
    request = models.ForeignKey(Request, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=300)
    key = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="hd_notification_once")]
        indexes = [models.Index(fields=["user", "read_at"], name="hd_notification_unread_idx")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user}"
