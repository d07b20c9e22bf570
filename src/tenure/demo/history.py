"""The demo company's customers and their history, simulated in memory (no database).

Each customer lives month by month: orders lead to scheduled jobs (some late, a few missed),
invoices and payments; questions arrive on several channels and are answered, slowly or never,
and slow answers bring call-backs. Every experience moves a hidden mood that drives survey scores
and the monthly chance of leaving, so churn has causes a model can find.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from tenure.core.roles import AGENT, DISPATCHER, TECHNICIAN
from tenure.demo import names
from tenure.demo.staff import BUSINESS_TIME_ZONE, StaffMember, make_staff, us_holidays

UTC = dt.UTC
TZ = ZoneInfo(BUSINESS_TIME_ZONE)
DAYS_PER_MONTH = 30.4375
LAPSE_AFTER_DAYS = 180

SERVICES = {
    "plumbing": (
        ("Leaking faucet repair", 180),
        ("Water heater replacement", 1650),
        ("Drain cleaning", 240),
        ("Sump pump install", 950),
        ("Toilet repair", 210),
        ("Burst pipe repair", 620),
    ),
    "heating": (
        ("Furnace tune-up", 160),
        ("Furnace repair", 480),
        ("Boiler service", 290),
        ("AC repair", 520),
        ("Thermostat install", 260),
        ("Heat pump install", 6400),
    ),
    "electrical": (
        ("Outlet repair", 150),
        ("Panel upgrade", 2400),
        ("Ceiling fan install", 320),
        ("EV charger install", 1450),
        ("Breaker troubleshooting", 230),
    ),
}
DEPARTMENT_SUBJECTS = {
    "billing": (
        "Question about my invoice",
        "I was charged twice",
        "Can I pay in installments?",
        "Receipt needed",
    ),
    "service": (
        "Water heater making noise",
        "No heat since last night",
        "Breaker keeps tripping",
        "Leak under sink",
    ),
    "scheduling": ("Need to move my appointment", "When is the technician coming?", "Book a tune-up"),
    "sales": ("Quote for a panel upgrade", "Price for a new furnace", "Do you install EV chargers?"),
    "general": ("Do you service Skokie?", "Update my phone number", "Question about the maintenance plan"),
    "complaint": ("Technician never showed up", "Still broken after the repair", "Nobody answered my e-mail"),
}
LOSS_REASONS = ("moved away", "price", "competitor", "poor service", "slow response", "no-show technician")
ACQUISITION = ("referral", "google", "yelp", "nextdoor", "truck signage", "home show")
PLAN_NAME, PLAN_PRICE = "Comfort Club", 189

# Median hours to a first answer, by the channel a request came in on.
ANSWER_MEDIAN_HOURS = {"phone": 0.4, "chat": 0.3, "sms": 3.0, "email": 7.0, "web": 9.0}
# Lateness and no-show chances per technician: most are reliable, two are not.
TECH_LATE = (0.05, 0.07, 0.09, 0.12, 0.22, 0.30)
TECH_MISSED = (0.004, 0.005, 0.008, 0.01, 0.025, 0.035)
# Monthly chance of leaving for a customer in an average mood; tuned for about 30% a year.
BASE_MONTHLY_HAZARD = 0.019


Emit = Callable[..., None]


@dataclass(frozen=True)
class ContactSpec:
    name: str
    role: str
    email: str
    phone: str
    is_primary: bool


@dataclass
class CustomerSpec:
    ref: str
    kind: str
    name: str
    address: str
    created_at: dt.datetime
    rep: str
    tags: list[str]
    preferred_channel: str
    language: str
    quiet_hours: tuple[dt.time, dt.time] | None
    opted_out: list[str]
    identities: list[tuple[str, str]]
    contacts: list[ContactSpec] = field(default_factory=list)
    lifecycle: str = "prospect"
    lost_at: dt.datetime | None = None
    lost_reason: str = ""
    last_activity_at: dt.datetime | None = None
    lapse_due_at: dt.datetime | None = None


@dataclass(frozen=True)
class EventSpec:
    customer: int  # index into DemoData.customers
    kind: str
    occurred_at: dt.datetime
    channel: str
    actor: str
    payload: dict[str, Any]
    key: str


@dataclass
class DemoData:
    seed: int
    start: dt.datetime
    end: dt.datetime
    staff: list[StaffMember]
    holidays: list[tuple[dt.date, str]]
    customers: list[CustomerSpec]
    events: list[EventSpec]


# Kinds that count as the customer being in touch (they move last_activity_at on).
ACTIVITY_KINDS = frozenset(
    {
        "customer.created",
        "order.placed",
        "job.completed",
        "request.received",
        "request.callback",
        "payment.received",
        "survey.answered",
        "plan.renewed",
    }
)


def _weighted(rng: random.Random, options: dict[str, float]) -> str:
    return rng.choices(list(options), weights=list(options.values()))[0]


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: means here are small (a few events a month).
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


@dataclass
class _Mood:
    """What a customer has been through; drives scores and the chance of leaving."""

    level: float
    late_jobs: int = 0
    missed_jobs: int = 0
    slow_answers: int = 0
    unanswered: int = 0
    low_scores: int = 0
    recent_bad: list[float] = field(default_factory=list)

    def hit(self, day: float, amount: float) -> None:
        self.level = max(0.0, self.level - amount)
        self.recent_bad.append(day)

    def lift(self, amount: float) -> None:
        self.level = min(1.0, self.level + amount)


class _Simulator:
    def __init__(self, seed: int, customers: int, months: int, end: dt.datetime) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.customer_count = customers
        self.months = months
        self.end = end.astimezone(UTC)
        local_end = self.end.astimezone(TZ).date()
        self.start_date = local_end - dt.timedelta(days=round(months * DAYS_PER_MONTH))
        self.days = (local_end - self.start_date).days
        self.start = self.at(0, 0.0)
        self.staff = make_staff(self.rng)
        self.agents = [s for s in self.staff if s.role == AGENT]
        self.techs = [s for s in self.staff if s.role == TECHNICIAN]
        self.dispatcher = next(s for s in self.staff if s.role == DISPATCHER)
        self.contacts = names.ContactBook(self.rng)
        self.customers: list[CustomerSpec] = []
        self.events: list[EventSpec] = []
        self.counters: dict[str, int] = {}
        self._seq = 0

    # --- time -------------------------------------------------------------------------------------
    def at(self, day: float, hour: float) -> dt.datetime:
        """Day `day` of the period (0 = first) at `hour` o'clock business time, in UTC."""
        date = self.start_date + dt.timedelta(days=math.floor(day))
        local = dt.datetime.combine(date, dt.time(0), tzinfo=TZ) + dt.timedelta(hours=hour)
        return local.astimezone(UTC)

    def workday(self, day: float) -> float:
        """The day itself, or the next day the office is open (Sundays are closed)."""
        date = self.start_date + dt.timedelta(days=math.floor(day))
        return math.floor(day) + (1 if date.weekday() == 6 else 0)

    def next_id(self, prefix: str) -> str:
        self.counters[prefix] = self.counters.get(prefix, 0) + 1
        return f"{prefix}-{self.counters[prefix]:06d}"

    # --- run --------------------------------------------------------------------------------------
    def run(self) -> DemoData:
        base = round(self.customer_count * 0.45)
        for index in range(self.customer_count):
            # The base joined before the period; the rest join throughout it.
            joined = -self.rng.uniform(30, 6 * 365) if index < base else self.rng.uniform(0, self.days)
            self.simulate_customer(index, joined, is_base=index < base)
        return DemoData(
            seed=self.seed,
            start=self.start,
            end=self.end,
            staff=self.staff,
            holidays=us_holidays(self.start_date, self.end.astimezone(TZ).date()),
            customers=self.customers,
            events=self.events,
        )

    def simulate_customer(self, index: int, joined: float, *, is_base: bool) -> None:
        rng = self.rng
        spec = self.make_customer(index, joined)
        self.customers.append(spec)
        is_company = spec.kind == "company"
        plan = "maintenance-plan" in spec.tags
        prospect = not is_base and rng.random() < 0.12
        events: list[EventSpec] = []

        def emit(kind: str, when: dt.datetime, channel: str, actor: str, **payload: Any) -> None:
            events.append(EventSpec(index, kind, when, channel, actor, payload, ""))

        emit(
            "customer.created",
            spec.created_at,
            "system",
            "system",
            name=spec.name,
            acquired_via=rng.choice(ACQUISITION),
        )
        mood = _Mood(level=min(1.0, max(0.1, rng.gauss(0.68, 0.14))))
        activity = rng.lognormvariate(0.0, 0.5) * (2.6 if is_company else 1.0)
        job_rate = 2.9 * activity / 12 + (2 / 12 if plan else 0.0)
        request_rate = 2.9 * activity / 12
        lost_day: float | None = None

        if prospect:
            day = joined + rng.uniform(1, 5)
            self.request(emit, mood, day, department="sales", customer=spec)
        else:
            first = max(joined, 0.0) + (rng.uniform(1, 10) if joined >= 0 else 0.0)
            if joined >= 0:
                self.job(emit, mood, first, spec)
            month_start = first
            while month_start < self.days and lost_day is None:
                if self.leaves(rng, mood, month_start, plan=plan, company=is_company):
                    lost_day = month_start + rng.uniform(0, DAYS_PER_MONTH)
                month_end = min(self.days, month_start + DAYS_PER_MONTH)
                starts = [
                    ("job", rng.uniform(month_start, month_end)) for _ in range(_poisson(rng, job_rate))
                ]
                starts += [
                    ("req", rng.uniform(month_start, month_end)) for _ in range(_poisson(rng, request_rate))
                ]
                for what, day in sorted(starts, key=lambda item: item[1]):
                    if lost_day is not None and day >= lost_day:
                        break
                    if what == "job":
                        self.job(emit, mood, day, spec)
                    else:
                        self.request(emit, mood, day, department=None, customer=spec)
                month_start += DAYS_PER_MONTH
            if plan:
                self.renewals(emit, joined, lost_day)

        lost_at = None
        if lost_day is not None and lost_day < self.days:
            lost_at = self.at(lost_day, rng.uniform(8, 18))
        cutoff = lost_at or self.end
        events = [event for event in events if event.occurred_at <= cutoff]
        if lost_at is not None:
            spec.lifecycle, spec.lost_at = "lost", lost_at
            spec.lost_reason = self.loss_reason(rng, mood, company=is_company)
            emit("customer.lost", lost_at, "system", "system", to="lost", reason=spec.lost_reason)
        events.sort(key=lambda event: event.occurred_at)
        placed = any(event.kind == "order.placed" for event in events)
        self.finish(index, spec, events, ordered=not prospect and (is_base or placed))

    def finish(self, index: int, spec: CustomerSpec, events: list[EventSpec], *, ordered: bool) -> None:
        activity = [event.occurred_at for event in events if event.kind in ACTIVITY_KINDS]
        spec.last_activity_at = max(activity) if activity else spec.created_at
        if spec.lifecycle != "lost":
            if not ordered:
                spec.lifecycle = "prospect"
            elif self.end - spec.last_activity_at > dt.timedelta(days=LAPSE_AFTER_DAYS):
                spec.lifecycle = "lapsed"
                lapsed_at = spec.last_activity_at + dt.timedelta(days=LAPSE_AFTER_DAYS)
                events.append(
                    EventSpec(
                        index,
                        "customer.lapsed",
                        lapsed_at,
                        "system",
                        "system",
                        {"last_activity_at": spec.last_activity_at.isoformat()},
                        "",
                    )
                )
            else:
                spec.lifecycle = "active"
                spec.lapse_due_at = spec.last_activity_at + dt.timedelta(days=LAPSE_AFTER_DAYS)
        for event in events:
            self._seq += 1
            self.events.append(
                EventSpec(
                    event.customer,
                    event.kind,
                    event.occurred_at,
                    event.channel,
                    event.actor,
                    event.payload,
                    f"s{self.seed}:{spec.ref}:{self._seq:07d}",
                )
            )

    # --- people -----------------------------------------------------------------------------------
    def make_customer(self, index: int, joined: float) -> CustomerSpec:
        rng = self.rng
        place = names.place(rng)
        tags: list[str] = []
        contacts: list[ContactSpec] = []
        identities: list[tuple[str, str]] = []
        if rng.random() < 0.1:
            pattern, sub_tag, roles = rng.choice(names.COMPANY_KINDS)
            _first, last = names.person_name(rng)
            name = pattern.format(
                last=last,
                last2=rng.choice(names.LAST_NAMES),
                city=place.city,
                street=place.street.split(" ", 2)[2].rsplit(" ", 1)[0],
            )
            kind = "company"
            tags += ["commercial", sub_tag]
            domain = f"{names.slug(name.replace(' ', ''))[:30]}.example.com"
            identities.append(("email", self.contacts.email("office", domain)))
            identities.append(("phone", self.contacts.phone(place.area_code)))
            for position, role in enumerate(roles[: rng.randint(1, len(roles))]):
                first, last = names.person_name(rng)
                contacts.append(
                    ContactSpec(
                        name=f"{first} {last}",
                        role=role,
                        email=self.contacts.email(f"{first}.{last}", domain),
                        phone=self.contacts.phone(place.area_code),
                        is_primary=position == 0,
                    )
                )
            plan_share, vip_share = 0.4, 0.12
        else:
            first, last = names.person_name(rng)
            name, kind = f"{first} {last}", "person"
            if rng.random() < 0.9:
                identities.append(("email", self.contacts.email(f"{first}.{last}")))
            if not identities or rng.random() < 0.85:
                identities.append(("phone", self.contacts.phone(place.area_code)))
            plan_share, vip_share = 0.22, 0.03
        if rng.random() < plan_share:
            tags.append("maintenance-plan")
        if rng.random() < vip_share:
            tags.append("vip")
        channels = [channel for channel, _ in identities]
        preferred = rng.choice(channels) if rng.random() < 0.85 else ""
        quiet = None
        if rng.random() < 0.2:
            quiet = rng.choice(
                ((dt.time(21), dt.time(8)), (dt.time(22), dt.time(7)), (dt.time(20), dt.time(9)))
            )
        opted_out = [
            purpose
            for purpose, share in (("marketing", 0.15), ("surveys", 0.05), ("stay_in_touch", 0.03))
            if rng.random() < share
        ]
        return CustomerSpec(
            ref=f"CUST-{index + 1:06d}",
            kind=kind,
            name=name,
            address=place.address,
            created_at=self.at(joined, rng.uniform(8, 18)),
            rep=rng.choice(self.agents).username,
            tags=sorted(tags),
            preferred_channel=preferred,
            language=_weighted(rng, {"en": 0.9, "es": 0.08, "pl": 0.02}),
            quiet_hours=quiet,
            opted_out=opted_out,
            identities=identities,
            contacts=contacts,
        )

    # --- experiences ------------------------------------------------------------------------------
    def job(self, emit: Emit, mood: _Mood, day: float, spec: CustomerSpec) -> None:
        rng = self.rng
        local_month = (self.start_date + dt.timedelta(days=math.floor(day))).month
        winter = local_month in (11, 12, 1, 2, 3)
        service = _weighted(rng, {"plumbing": 0.45, "heating": 0.45 if winter else 0.25, "electrical": 0.2})
        work, price = rng.choice(SERVICES[service])
        amount = round(price * rng.uniform(0.8, 1.3), 2)
        order, job_id = self.next_id("ORD"), self.next_id("JOB")
        placed = self.at(day, rng.uniform(8, 18))
        channel = _weighted(rng, {"phone": 0.5, "web": 0.3, "email": 0.15, "chat": 0.05})
        emit(
            "order.placed",
            placed,
            channel,
            "customer",
            order=order,
            service=service,
            work=work,
            amount=amount,
        )
        visit_day = self.workday(day + (0 if rng.random() < 0.15 else rng.randint(1, 7)))
        tech_index = rng.randrange(len(self.techs))
        tech = self.techs[tech_index]
        window_hour = rng.choice((8, 10, 12, 14, 16))
        emit(
            "job.scheduled",
            placed + dt.timedelta(minutes=rng.randint(5, 90)),
            "system",
            self.dispatcher.actor,
            order=order,
            job=job_id,
            technician=tech.username,
            service=service,
            window_start=self.at(visit_day, window_hour).isoformat(),
            window_end=self.at(visit_day, window_hour + 2).isoformat(),
        )
        if rng.random() < TECH_MISSED[tech_index]:
            emit(
                "job.missed",
                self.at(visit_day, window_hour + 2.5),
                "system",
                tech.actor,
                job=job_id,
                technician=tech.username,
            )
            mood.missed_jobs += 1
            mood.hit(day, 0.22)
            visit_day = self.workday(visit_day + rng.randint(1, 3))
            tech_index = rng.randrange(len(self.techs))
            tech = self.techs[tech_index]
            emit(
                "job.scheduled",
                self.at(visit_day - 1, 16),
                "system",
                self.dispatcher.actor,
                order=order,
                job=job_id,
                technician=tech.username,
                service=service,
                rescheduled=True,
                window_start=self.at(visit_day, window_hour).isoformat(),
                window_end=self.at(visit_day, window_hour + 2).isoformat(),
            )
        arrival = window_hour + rng.uniform(0, 1.8)
        late = rng.random() < TECH_LATE[tech_index]
        if late:
            minutes = round(10 + rng.expovariate(1 / 40))
            arrival = window_hour + 2 + minutes / 60
            emit(
                "job.late",
                self.at(visit_day, arrival),
                "system",
                tech.actor,
                job=job_id,
                technician=tech.username,
                minutes_late=minutes,
            )
            mood.late_jobs += 1
            mood.hit(day, 0.05 + minutes / 500)
        else:
            mood.lift(0.02)
        duration = round(min(480, max(30, rng.lognormvariate(math.log(95), 0.5))))
        done = self.at(visit_day, arrival + duration / 60)
        emit(
            "job.completed",
            done,
            "in_person",
            tech.actor,
            job=job_id,
            order=order,
            technician=tech.username,
            service=service,
            work=work,
            duration_minutes=duration,
        )
        invoice = self.next_id("INV")
        emit("invoice.sent", done + dt.timedelta(hours=1), "email", "system", invoice=invoice, amount=amount)
        if rng.random() < 0.82:
            emit(
                "payment.received",
                done + dt.timedelta(days=rng.uniform(0.1, 25)),
                "web",
                "customer",
                invoice=invoice,
                amount=amount,
            )
        else:
            emit(
                "payment.late",
                done + dt.timedelta(days=30),
                "system",
                "system",
                invoice=invoice,
                amount=amount,
                days_overdue=1,
            )
            emit(
                "payment.received",
                done + dt.timedelta(days=31 + rng.expovariate(1 / 15)),
                "web",
                "customer",
                invoice=invoice,
                amount=amount,
            )
        if rng.random() < 0.4 and "surveys" not in spec.opted_out:
            self.survey(emit, mood, done + dt.timedelta(days=rng.uniform(0.2, 3)), about=job_id)

    def request(
        self, emit: Emit, mood: _Mood, day: float, *, department: str | None, customer: CustomerSpec
    ) -> None:
        rng = self.rng
        recently_bad = any(day - when < 45 for when in mood.recent_bad)
        if department is None:
            department = _weighted(
                rng,
                {
                    "service": 0.3,
                    "scheduling": 0.25,
                    "billing": 0.2,
                    "sales": 0.08,
                    "general": 0.12,
                    "complaint": 0.35 if recently_bad else 0.04,
                },
            )
        channel = _weighted(rng, {"phone": 0.35, "email": 0.3, "web": 0.15, "sms": 0.1, "chat": 0.1})
        hour = rng.uniform(8, 18) if channel == "phone" else rng.uniform(6, 23)
        received = self.at(day, hour)
        request_id = self.next_id("REQ")
        emit(
            "request.received",
            received,
            channel,
            "customer",
            request=request_id,
            department=department,
            subject=rng.choice(DEPARTMENT_SUBJECTS[department]),
        )
        # Most questions reach the customer's own rep; the rest whoever is free.
        agent = self.rep_of(customer) if rng.random() < 0.6 else rng.choice(self.agents)
        median = ANSWER_MEDIAN_HOURS[channel] * (1.6 if department in ("complaint", "billing") else 1.0)
        hours = rng.lognormvariate(math.log(median), 1.4)
        weekday = received.astimezone(TZ).weekday()
        if weekday == 6 or (weekday == 5 and received.astimezone(TZ).hour >= 13):
            hours += 24 if weekday == 6 else 40
        unanswered = rng.random() < 0.035
        if unanswered:
            mood.unanswered += 1
            mood.hit(day, 0.14)
            callback_chance, wait = 0.8, rng.uniform(24, 120)
        else:
            if hours > 24:
                mood.slow_answers += 1
                mood.hit(day, 0.07)
            elif hours < 4:
                mood.lift(0.01)
            callback_chance = 0.03 if hours < 4 else 0.12 if hours < 24 else 0.45 if hours < 72 else 0.65
            wait = hours * rng.uniform(0.3, 0.9)
        if rng.random() < callback_chance:
            emit(
                "request.callback",
                received + dt.timedelta(hours=wait),
                "phone",
                "customer",
                request=request_id,
                hours_waiting=round(wait, 1),
                department=department,
            )
            mood.hit(day, 0.04)
            if unanswered and rng.random() < 0.4:
                wait2 = wait + rng.uniform(24, 96)
                emit(
                    "request.callback",
                    received + dt.timedelta(hours=wait2),
                    "phone",
                    "customer",
                    request=request_id,
                    hours_waiting=round(wait2, 1),
                    department=department,
                )
        if not unanswered:
            answered = received + dt.timedelta(hours=hours)
            emit(
                "request.answered",
                answered,
                channel,
                agent.actor,
                request=request_id,
                response_hours=round(hours, 2),
            )
            if rng.random() < 0.15 and "surveys" not in customer.opted_out:
                self.survey(emit, mood, answered + dt.timedelta(hours=rng.uniform(1, 48)), about=request_id)

    def rep_of(self, customer: CustomerSpec) -> StaffMember:
        return next(agent for agent in self.agents if agent.username == customer.rep)

    def survey(self, emit: Emit, mood: _Mood, when: dt.datetime, *, about: str) -> None:
        rng = self.rng
        nps = min(10, max(0, round(rng.gauss(2.5 + 8 * mood.level, 1.4))))
        csat = min(5, max(1, round(rng.gauss(1 + 4.3 * mood.level, 0.7))))
        if nps <= 6:
            mood.low_scores += 1
            mood.level = max(0.0, mood.level - 0.02)
        emit(
            "survey.answered", when, rng.choice(("email", "sms")), "customer", about=about, nps=nps, csat=csat
        )

    def renewals(self, emit: Emit, joined: float, lost_day: float | None) -> None:
        # Base customers renew on their anniversary inside the period, new ones a year after joining.
        day = joined % 365 if joined < 0 else joined + 365
        while day < self.days and (lost_day is None or day < lost_day):
            emit("plan.renewed", self.at(day, 9), "system", "system", plan=PLAN_NAME, amount=PLAN_PRICE)
            day += 365

    def leaves(self, rng: random.Random, mood: _Mood, day: float, *, plan: bool, company: bool) -> bool:
        recent = sum(1 for when in mood.recent_bad if day - 60 <= when <= day)
        hazard = BASE_MONTHLY_HAZARD * math.exp(2.4 * (0.68 - mood.level)) * (1 + 0.35 * recent)
        hazard *= (0.6 if plan else 1.0) * (0.75 if company else 1.0)
        return rng.random() < min(0.6, hazard)

    def loss_reason(self, rng: random.Random, mood: _Mood, *, company: bool) -> str:
        weights = {
            "moved away": 0.25 if company else 1.0,
            "price": 1.0,
            "competitor": 0.8,
            "poor service": 1.6 * (mood.late_jobs + mood.low_scores),
            "slow response": 1.8 * (mood.slow_answers + mood.unanswered),
            "no-show technician": 4.0 * mood.missed_jobs,
        }
        return _weighted(rng, weights)


def simulate(
    *, seed: int = 7, customers: int = 3000, months: int = 18, end: dt.datetime | None = None
) -> DemoData:
    """Everything the demo writes, decided in memory; the same arguments give the same data.

    Without `end` the history ends today, so a demo built tomorrow is the same company one day on.
    """
    if customers < 1 or months < 1:
        raise ValueError("customers and months must be at least 1")
    if end is None:
        # History runs up to the start of today (business time): the same seed gives the same company all day.
        today = dt.datetime.now(TZ).date()
        end = dt.datetime.combine(today, dt.time(0), tzinfo=TZ).astimezone(UTC)
    return _Simulator(seed, customers, months, end).run()
