"""Today's help-desk work for the demo: open requests on every channel, answered, waiting, breached,
in the triage queue, with call-backs due and overdue, assigned to the demo agents.

Desk configuration (which team answers each department, the agents' capacity, keyword triage rules) is
written as an admin would write it; every request, reply, status change and call-back goes through
`helpdesk.services`, so SLA deadlines, timers, timeline events and outbox rows are the real ones.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import User

from tenure.core.models import Team
from tenure.core.sweeper import registered_sweepers
from tenure.customers.models import Customer, Identity
from tenure.helpdesk import services as desk
from tenure.helpdesk.models import AgentProfile, Department, Request, Status, TriageRule
from tenure.helpdesk.services import Received

CHANNELS = {"email": 0.3, "web": 0.12, "chat": 0.15, "sms": 0.15, "phone": 0.28}
# Department slug -> the demo team whose calendar runs its SLA clocks and whose members see it.
DEPARTMENT_TEAMS = {
    "billing": "Billing",
    "service": "Service desk",
    "scheduling": "Service desk",
    "sales": "Service desk",
    "general": "Service desk",
    "complaint": "Service desk",
}
# Keyword rules, tried in this order; general questions match none and wait in the triage queue.
RULES = (
    ("Complaints", "complaint", "never showed, unacceptable, nobody answered, still broken, not happy"),
    ("Billing words", "billing", "invoice, charged, installment, receipt, refund, bill"),
    ("Scheduling words", "scheduling", "appointment, reschedule, technician coming, book a, tune-up"),
    ("Sales words", "sales", "quote, price for, do you install"),
    ("Service words", "service", "leak, no heat, breaker, noise, broken, water heater, not working"),
)
AGENT_CAPACITY = 30
DEMO_RULE_PREFIX = "Demo: "
# (subject, body) per department; a general question deliberately avoids every rule's keywords.
MESSAGES = {
    "billing": (
        ("Question about my invoice", "The invoice from last week shows a part I don't think was used."),
        ("I was charged twice", "My card was charged twice for the same visit, can you refund one?"),
        ("Can I pay in installments?", "The water heater bill is more than I expected. Installments?"),
    ),
    "service": (
        ("Water heater making noise", "Our water heater is making a loud knocking noise since yesterday."),
        ("No heat since last night", "No heat in the house since last night, the furnace won't start."),
        ("Breaker keeps tripping", "The kitchen breaker keeps tripping when the microwave runs."),
        ("Leak under sink", "There is a leak under the bathroom sink, water on the floor."),
    ),
    "scheduling": (
        ("Need to move my appointment", "Can we reschedule my appointment to later in the week?"),
        ("When is the technician coming?", "When is the technician coming today? Nobody called yet."),
        ("Book a tune-up", "I'd like to book a tune-up for the furnace before it gets colder."),
    ),
    "sales": (
        ("Quote for a panel upgrade", "Could you send me a quote for a 200A panel upgrade?"),
        ("Do you install EV chargers?", "Do you install EV chargers in detached garages?"),
    ),
    "general": (
        ("Do you service Skokie?", "Do you cover our area? We just moved to Skokie."),
        ("Update my phone number", "Please update my phone number on file, the old one is gone."),
        ("Maintenance plan", "What does the Comfort Club plan cover exactly?"),
    ),
    "complaint": (
        ("Technician never showed up", "The technician never showed up yesterday and nobody called."),
        ("Still broken after the repair", "Still broken after the repair on Monday. Unacceptable."),
    ),
}
DEPARTMENT_WEIGHTS = {
    "service": 0.3,
    "scheduling": 0.2,
    "billing": 0.18,
    "general": 0.12,
    "sales": 0.1,
    "complaint": 0.1,
}
REPLIES = (
    "Thanks for letting us know. I have looked into it and will update you shortly.",
    "Sorry about that. I've passed this to our team and will come back to you today.",
    "Thank you, we are on it. Could you tell us a good time to reach you?",
)


@dataclass(frozen=True)
class DeskSummary:
    requests: int
    open: int
    waiting: int
    resolved: int
    triage: int
    callbacks: int
    callbacks_overdue: int


def request_count(customers: int) -> int:
    return min(240, max(30, customers // 8))


def configure_desk(agents: Sequence[User], manager: User | None) -> None:
    """What an admin would set up before going live: teams per department, capacity, triage rules."""
    teams = {team.name: team for team in Team.objects.filter(name__in=set(DEPARTMENT_TEAMS.values()))}
    departments = {d.slug: d for d in Department.objects.filter(slug__in=DEPARTMENT_TEAMS)}
    for slug, department in departments.items():
        department.team = teams.get(DEPARTMENT_TEAMS[slug])
        department.lead = manager
        department.save(update_fields=["team", "lead"])
    billing = [departments[slug] for slug in ("billing", "general") if slug in departments]
    for index, agent in enumerate(agents):
        profile, _ = AgentProfile.objects.update_or_create(
            user=agent, defaults={"available": True, "max_open": AGENT_CAPACITY}
        )
        # The first two agents stay on billing and general questions; the others take anything.
        profile.departments.set(billing if index < 2 else [])
    for position, (name, slug, words) in enumerate(RULES, start=1):
        if slug in departments:
            TriageRule.objects.update_or_create(
                name=f"{DEMO_RULE_PREFIX}{name}",
                defaults={"position": position * 10, "keywords": words, "department": departments[slug]},
            )


def _sender(customer: Customer, channel: str, identities: dict[int, dict[str, str]]) -> str:
    known = identities.get(customer.pk, {})
    if channel in ("sms", "phone"):
        return known.get("phone", "") or known.get("email", "")
    if channel == "chat":
        return f"visitor-{customer.pk}"
    return known.get("email", "") or known.get("phone", "")


def _age(rng: random.Random) -> dt.timedelta:
    """How long ago a still-current request came in: most today, some over the last few days."""
    bucket = rng.random()
    if bucket < 0.3:
        hours = rng.uniform(0.05, 2)
    elif bucket < 0.6:
        hours = rng.uniform(2, 12)
    elif bucket < 0.85:
        hours = rng.uniform(12, 48)
    else:
        hours = rng.uniform(48, 120)
    return dt.timedelta(hours=hours)


def _work(rng: random.Random, got: Received, age: dt.timedelta, fallback: User, now: dt.datetime) -> str:
    """What the desk has done with the request since it came in; returns the status it ends in."""
    request = got.request
    agent = request.assignee or fallback
    roll = rng.random()
    if request.needs_triage or roll < 0.35:
        return str(request.status)
    desk.reply(request=request, author=agent, body=rng.choice(REPLIES))
    if roll < 0.65:
        return Status.OPEN
    if roll < 0.8:
        desk.set_status(
            request=request, status=Status.WAITING, by=agent, reason="asked the customer for photos"
        )
        return Status.WAITING
    if age > dt.timedelta(hours=6):
        desk.resolve(request=request, by=agent)
        return Status.RESOLVED
    return Status.OPEN


def seed_requests(
    *, seed: int, customers: Sequence[Customer], agents: Sequence[User], now: dt.datetime
) -> DeskSummary:
    rng = random.Random(f"desk:{seed}")
    count = min(request_count(len(customers)), len(customers))
    chosen = rng.sample(list(customers), count)
    identities: dict[int, dict[str, str]] = {}
    for customer_id, channel, value in Identity.objects.filter(
        customer_id__in=[c.pk for c in chosen]
    ).values_list("customer_id", "channel", "value"):
        identities.setdefault(customer_id, {})[channel] = value
    statuses: list[str] = []
    callbacks = overdue = 0
    for index, customer in enumerate(chosen):
        department = rng.choices(list(DEPARTMENT_WEIGHTS), weights=list(DEPARTMENT_WEIGHTS.values()))[0]
        subject, body = rng.choice(MESSAGES[department])
        channel = rng.choices(list(CHANNELS), weights=list(CHANNELS.values()))[0]
        age = _age(rng)
        got = desk.receive_message(
            customer=customer,
            channel=channel,
            subject=subject if channel in ("email", "web") else "",
            body=body,
            sender=_sender(customer, channel, identities),
            external_id=f"demo-{seed}-present-{index}",
            received_at=now - age,
        )
        statuses.append(_work(rng, got, age, agents[index % len(agents)], now))
        if channel == "phone" and statuses[-1] in (Status.NEW, Status.OPEN) and rng.random() < 0.6:
            due = now + dt.timedelta(minutes=rng.uniform(-180, 110))
            desk.schedule_callback(
                request=got.request,
                due_at=due,
                by=got.request.assignee,
                phone=_sender(customer, "phone", identities),
                note="Customer asked to be called back",
            )
            callbacks += 1
            overdue += due < now
    # Record SLA breaches and warnings now, as the worker's sweep would within seconds of starting.
    registered_sweepers()["helpdesk.sla"](now)
    return DeskSummary(
        requests=count,
        open=sum(s in (Status.NEW, Status.OPEN) for s in statuses),
        waiting=statuses.count(Status.WAITING),
        resolved=statuses.count(Status.RESOLVED),
        triage=Request.objects.filter(needs_triage=True, status__in=(Status.NEW, Status.OPEN)).count(),
        callbacks=callbacks,
        callbacks_overdue=overdue,
    )
