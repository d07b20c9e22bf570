"""What to fix first: which operational failures raise the chance of a customer leaving, and by how much.

Method: a Cox proportional-hazards model on customer-month rows (counting-process form).

* Time scale is tenure (days since joining), so the baseline hazard absorbs how the chance of
  leaving changes with tenure without assuming a shape; customers who joined before the data starts
  enter at their tenure on the first day (delayed entry), so an old base is not mistaken for loyalty.
* Each row is one customer in one calendar month; its exposures are counts of each failure in the
  trailing `window_days` before the month starts. Measured before the month, they cannot be caused
  by the leaving they are meant to explain, and they change month by month (time-varying).
* Adjusted for activity — orders and requests in the same window (a customer with more
  jobs has more chances of a late one) — and for company vs person and a maintenance plan.
* Ties use Breslow's approximation; hazard ratios get 95% intervals from the observed information
  (survival.cox_fit).

Why Cox rather than a customer-month logistic model: the two agree for small monthly hazards, but
Cox needs no baseline-by-tenure dummies, handles delayed entry exactly and yields interval estimates
without a bootstrap (seconds instead of minutes on a large base).

"About N customers a year kept if halved": for each row the fitted expected losses (Breslow baseline x
exp(x.beta)) are summed over the last twelve months; halving a failure means each past failure is
avoided with probability 1/2, which multiplies a row's hazard by ((1 + HR) / (2 HR))^count. The
difference is the customers kept; its interval comes from 4,000 draws of the coefficients from their
estimated normal distribution. Low survey scores are a symptom rather than a failure someone can
halve: they are estimated in a second model (so they do not soak up the effect of the failures that
caused them) and reported as a signal with no "kept" figure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from tenure.insights.serialize import JsonMixin
from tenure.insights.spans import (
    US_PER_DAY,
    US_PER_HOUR,
    US_PER_YEAR,
    Definition,
    Subscription,
    Timeline,
    customer_spans,
    events_frame,
    events_since,
    month_starts,
    observation_start,
    restricted_to,
    to_us,
)
from tenure.insights.survival import CoxFit, cox_fit

FIELD, BILLING = "field", "billing"
MIN_LOSSES = 20
# Above this many customers the panel is built for a sample of them (see _sample); a million customers
# would otherwise make tens of millions of customer-month rows.
SAMPLE_CUSTOMERS = 50_000
COUNT_CAP = 10  # a handful of customers with dozens of failures should not set the slope alone
DRAWS = 4000


@dataclass(frozen=True)
class Failure:
    key: str
    label: str  # plural, for "late arrivals raise ..."
    kinds: tuple[str, ...]
    department: str | None  # None: from the request the event is about (or the event's own department)
    signal: bool = False


FAILURES: tuple[Failure, ...] = (
    Failure("late_arrival", "late arrivals (outside the promised window)", ("job.late", "appointment.window_missed"), FIELD),
    Failure("missed_job", "missed appointments", ("job.missed",), FIELD),
    Failure("not_fixed", "jobs not fixed first time", ("job.not_fixed",), FIELD),
    Failure("unanswered_request", "requests left unanswered over 2 days", ("request.received",), None),
    Failure("slow_answer", "answers that took over a day", ("request.answered",), None),
    Failure("sla_breach", "response-time (SLA) breaches", ("request.sla_breached",), None),
    Failure("callback", "call-backs (customers chasing an answer)", ("request.callback", "request.repeat_contact"), None),
    Failure("reopened", "requests reopened", ("request.reopened",), None),
    Failure("payment_problem", "payment and billing problems", ("payment.late", "billing.error"), BILLING),
    Failure("low_survey", "low survey scores (NPS 0-6 or CSAT 1-2)", ("survey.answered",), None, signal=True),
)  # fmt: skip
ADJUSTERS = {
    "orders_window": "orders in the window (log)",
    "requests_window": "requests in the window (log)",
    "company": "a company rather than a person",
    "plan": "on a maintenance plan",
}


@dataclass
class Driver:
    key: str
    label: str
    department: str  # where most of these failures happened
    departments: dict[str, float]  # share of the last year's failures per department
    signal: bool
    events_last_year: int
    customers_affected: int
    hazard_ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    significant: bool  # the 95% interval excludes 1
    kept_per_year: float | None
    kept_low: float | None
    kept_high: float | None
    kept_if_eliminated: float | None
    sentence: str


@dataclass
class Adjustment:
    key: str
    label: str
    hazard_ratio: float
    ci_low: float
    ci_high: float


@dataclass
class DepartmentImpact:
    department: str
    kept_per_year: float
    failures: list[str]


@dataclass
class DriversReport(JsonMixin):
    as_of: dt.datetime
    definition: str
    method: str
    window_days: int
    customers: int
    rows: int
    losses: int
    losses_last_year: int
    predicted_losses_per_year: float
    drivers: list[Driver]  # ranked: most customers kept if halved first
    adjusted_for: list[Adjustment]
    departments: list[DepartmentImpact]
    no_data: list[str]  # failures the timeline has none of yet
    headers: list[str]
    table: list[list[str]]
    headline: str
    note: str = ""
    converged: bool = True
    extra: dict[str, float] = field(default_factory=dict)


# --- failure events --------------------------------------------------------------------------------


def _request_departments(timeline: Timeline) -> pl.DataFrame:
    return (
        events_frame(timeline, ["request.received"], ["department", "ref"])
        .filter(pl.col("ref").is_not_null())
        .group_by("customer_id", "ref")
        .agg(request_department=pl.col("department").drop_nulls().first(), received=pl.col("t").min())
    )


ACTIVITY_KINDS = ("order.placed", "request.received", "request.answered", "plan.renewed")


def kinds_read() -> set[str]:
    """Every event kind the analysis reads (customer.lost and contract ends included), so a large
    extract can be loaded without the rest."""
    return (
        {k for failure in FAILURES for k in failure.kinds}
        | set(ACTIVITY_KINDS)
        | set(Subscription().end_kinds)
    )


def failure_events(
    timeline: Timeline, slow_hours: float = 24.0, since: int | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(point failures: customer_id, t, failure, department; requests: customer_id, received, answered, department).

    Unanswered requests are not point events: whether one counts depends on when you look, so they
    are returned separately with their answer time (null if never answered). With `since` (µs), only
    failures and requests from then on (a request's department is still found if it came earlier).
    """
    kinds = {kind for failure in FAILURES for kind in failure.kinds}
    requests = _request_departments(timeline)
    if since is not None:
        timeline = events_since(timeline, since)
    events = events_frame(timeline, kinds, ["department", "ref", "response_hours", "nps", "csat"])
    events = events.join(requests.drop("received"), on=["customer_id", "ref"], how="left").with_columns(
        department=pl.coalesce("department", "request_department")
    )
    parts = []
    for failure in FAILURES:
        if failure.key == "unanswered_request":
            continue
        chosen = events.filter(pl.col("kind").is_in(failure.kinds))
        if failure.key == "slow_answer":
            chosen = chosen.filter(pl.col("response_hours") > slow_hours)
        elif failure.key == "low_survey":
            chosen = chosen.filter((pl.col("nps") <= 6) | (pl.col("csat") <= 2))
        department = (
            pl.lit(failure.department) if failure.department else pl.col("department").fill_null("general")
        )
        parts.append(chosen.select("customer_id", "t", failure=pl.lit(failure.key), department=department))
    points = pl.concat(parts)
    if since is not None:
        requests = requests.filter(pl.col("received") >= since)
    answers = (
        events_frame(timeline, ["request.answered"], ["ref"])
        .filter(pl.col("ref").is_not_null())
        .group_by("customer_id", "ref")
        .agg(answered=pl.col("t").min())
    )
    lifecycle = requests.join(answers, on=["customer_id", "ref"], how="left").select(
        "customer_id", "received", "answered", department=pl.col("request_department").fill_null("general")
    )
    return points, lifecycle


# --- the customer-month panel ----------------------------------------------------------------------


@dataclass
class Panel:
    customer_id: np.ndarray
    month: np.ndarray  # index into grid
    start: np.ndarray  # tenure days
    stop: np.ndarray
    event: np.ndarray
    exit_us: np.ndarray
    columns: dict[str, np.ndarray]
    grid: list[int]
    population: int = 0  # customers before sampling
    weight: float = 1.0  # customers each sampled customer stands for


def build_panel(
    timeline: Timeline,
    as_of: dt.datetime,
    definition: Definition | None = None,
    window_days: int = 90,
    slow_hours: float = 24.0,
    unanswered_after_hours: float = 48.0,
    max_customers: int = SAMPLE_CUSTOMERS,
    seed: int = 0,
) -> Panel:
    """Customer-month rows from the first month start a full window after the data begins, for every
    customer or, above ``max_customers``, for a seeded stratified sample of them."""
    as_of_us = to_us(as_of)
    first = observation_start(timeline)
    window = window_days * US_PER_DAY
    grid = [] if first is None else month_starts(first + window, as_of_us)
    if not grid:
        raise ValueError(
            f"not enough history for the drivers analysis: it needs events over more than {window_days} days "
            "before the first month it studies"
        )
    spans = customer_spans(timeline, as_of, definition or Subscription(), grid)
    population = spans.height
    spans = _sample(spans, max_customers, seed)
    if spans.height < population:
        timeline = restricted_to(timeline, spans["customer_id"].to_numpy())
    ends = [*grid[1:], as_of_us]
    rows = (
        spans.join(pl.DataFrame({"month": range(len(grid)), "b": grid, "e": ends}), how="cross")
        .with_columns(
            entry=pl.max_horizontal("b", "joined"),
            exit=pl.min_horizontal("e", pl.col("lost").fill_null(as_of_us)),
        )
        .filter(pl.col("exit") > pl.col("entry"))
        .with_columns(event=pl.col("lost").is_not_null() & (pl.col("lost") == pl.col("exit")))
    )
    points, requests = failure_events(timeline, slow_hours)
    extra = events_frame(timeline, ["order.placed", "request.received", "plan.renewed"])
    counts = []
    for index, b in enumerate(grid):
        recent = points.filter(pl.col("t").is_between(b - window, b, closed="left"))
        open_requests = requests.filter(
            pl.col("received").is_between(
                b - window, b - int(unanswered_after_hours * US_PER_HOUR), closed="left"
            )
            & (pl.col("answered").is_null() | (pl.col("answered") >= b))
        ).select("customer_id", failure=pl.lit("unanswered_request"))
        activity = pl.concat(
            [
                extra.filter((pl.col("kind") == "order.placed") & pl.col("t").is_between(b - window, b, closed="left"))
                .select("customer_id", failure=pl.lit("orders_window")),
                extra.filter((pl.col("kind") == "request.received") & pl.col("t").is_between(b - window, b, closed="left"))
                .select("customer_id", failure=pl.lit("requests_window")),
                extra.filter((pl.col("kind") == "plan.renewed") & (pl.col("t") < b))
                .select("customer_id", failure=pl.lit("plan")),
            ]
        )  # fmt: skip
        counts.append(
            pl.concat([recent.select("customer_id", "failure"), open_requests, activity])
            .group_by("customer_id", "failure")
            .len()
            .with_columns(month=pl.lit(index))
        )
    keys = [f.key for f in FAILURES] + ["orders_window", "requests_window", "plan"]
    if counts:
        wide = pl.concat(counts).pivot(on="failure", index=["customer_id", "month"], values="len")
        rows = rows.join(wide, on=["customer_id", "month"], how="left")
    for key in keys:
        if key not in rows.columns:
            rows = rows.with_columns(pl.lit(0).alias(key))
    rows = rows.with_columns([pl.col(key).fill_null(0).cast(pl.Float64) for key in keys])
    columns = {f.key: np.minimum(rows[f.key].to_numpy(), COUNT_CAP) for f in FAILURES}
    columns["orders_window"] = np.log1p(rows["orders_window"].to_numpy())
    columns["requests_window"] = np.log1p(rows["requests_window"].to_numpy())
    columns["company"] = (rows["kind"] == "company").cast(pl.Float64).to_numpy()
    columns["plan"] = (rows["plan"].to_numpy() > 0).astype(np.float64)
    joined = rows["joined"].to_numpy()
    return Panel(
        customer_id=rows["customer_id"].to_numpy(),
        month=rows["month"].to_numpy(),
        start=(rows["entry"].to_numpy() - joined) / US_PER_DAY,
        stop=(rows["exit"].to_numpy() - joined) / US_PER_DAY,
        event=rows["event"].to_numpy(),
        exit_us=rows["exit"].to_numpy(),
        columns=columns,
        grid=grid,
        population=population,
        weight=population / spans.height if spans.height else 1.0,
    )


def _sample(spans: pl.DataFrame, limit: int, seed: int) -> pl.DataFrame:
    """At most ``limit`` customers, the same share of each stratum (lost or not x company or person).

    One sampling fraction for everyone keeps the hazard ratios unbiased (a simple random sample of
    customers, whole histories kept); stratifying only makes the sample's mix of leavers and kinds match
    the base exactly. Counts (customers kept a year, losses) are scaled back by population / sample."""
    if spans.height <= limit:
        return spans
    fraction = limit / spans.height
    rng = np.random.default_rng(seed)
    strata = spans.with_row_index("row").group_by(pl.col("lost").is_not_null().alias("left"), "kind")
    chosen: list[np.ndarray] = []
    for _, group in sorted(strata, key=lambda item: str(item[0])):
        rows = group["row"].to_numpy()
        chosen.append(rng.choice(rows, size=max(1, round(rows.size * fraction)), replace=False))
    return spans[np.sort(np.concatenate(chosen))]


# --- fitting and counterfactuals -------------------------------------------------------------------


def _fit(panel: Panel, names: list[str]) -> CoxFit:
    x = np.column_stack([panel.columns[name] for name in names])
    return cox_fit(panel.start, panel.stop, panel.event, x, names)


def _kept(expected: np.ndarray, counts: np.ndarray, hazard_ratios: np.ndarray) -> np.ndarray:
    """Customers kept (per draw) if each counted failure had been avoided with probability 1/2."""
    # Counts are small integers: sum the expected losses per count value, then one power per value.
    values, position = np.unique(counts, return_inverse=True)
    expected_by_value = np.bincount(position, weights=expected, minlength=values.size)
    factor = (1.0 + hazard_ratios) / (2.0 * hazard_ratios)  # shape (draws,)
    remaining = factor[:, None] ** values[None, :]
    return ((1.0 - remaining) * expected_by_value[None, :]).sum(axis=1)


def _departments(
    points: pl.DataFrame, requests: pl.DataFrame, key: str, since: int, until: int
) -> dict[str, int]:
    if key == "unanswered_request":
        chosen = requests.filter(
            pl.col("received").is_between(since, until, closed="left")
            & (pl.col("answered").is_null() | (pl.col("answered") >= until))
        )
    else:
        chosen = points.filter(
            (pl.col("failure") == key) & pl.col("t").is_between(since, until, closed="left")
        )
    counted = chosen.group_by("department").len().sort("len", descending=True)
    return dict(zip(counted["department"].to_list(), counted["len"].to_list(), strict=True))


def find_drivers(
    timeline: Timeline,
    as_of: dt.datetime,
    definition: Definition | None = None,
    window_days: int = 90,
    slow_hours: float = 24.0,
    seed: int = 0,
    max_customers: int = SAMPLE_CUSTOMERS,
) -> DriversReport:
    """Rank the failures by customers a year they cost, with hazard ratios and intervals."""
    definition = definition or Subscription()
    as_of_us = to_us(as_of)
    panel = build_panel(
        timeline, as_of, definition, window_days, slow_hours, max_customers=max_customers, seed=seed
    )
    losses = int(panel.event.sum())
    customers = int(np.unique(panel.customer_id).size)
    sample = (
        f" of a stratified random sample of {customers:,} of the {panel.population:,} customers (seed {seed}); "
        "counts scaled back to the whole base"
        if panel.weight > 1
        else ""
    )
    method = (
        f"Cox proportional hazards on {panel.event.size} customer-months{sample}; failures counted over the "
        f"previous {window_days} days; adjusted for tenure, activity, company and plan"
    )
    headers = [
        "Failure",
        "Department",
        "Hazard ratio (95% CI)",
        "Customers a year kept if halved",
        "Last year",
    ]
    empty = DriversReport(
        as_of, definition.label, method, window_days, panel.population, int(panel.event.size),
        round(losses * panel.weight), 0, 0.0,
        [], [], [], [], headers, [], "",
    )  # fmt: skip
    if losses < MIN_LOSSES:
        empty.note = empty.headline = (
            f"not enough history to find what drives leaving: {losses} customers lost in the period "
            f"studied, need {MIN_LOSSES}"
        )
        return empty
    operational = [f for f in FAILURES if not f.signal]
    usable = [f for f in operational if np.ptp(panel.columns[f.key]) > 0]
    adjusters = [name for name in ADJUSTERS if np.ptp(panel.columns[name]) > 0]
    names = [f.key for f in usable] + adjusters
    fit = _fit(panel, names)
    hr, low, high = fit.hazard_ratios()
    p_values = fit.p_values()
    x = np.column_stack([panel.columns[name] for name in names])

    year_start = max(as_of_us - US_PER_YEAR, panel.grid[0] if panel.grid else as_of_us)
    covered_days = (as_of_us - year_start) / US_PER_DAY
    scale = 365.0 / covered_days if covered_days > 0 else 0.0
    recent = panel.exit_us > year_start
    entry_recent = np.maximum(panel.start, panel.stop - (panel.exit_us - year_start) / US_PER_DAY)
    expected = fit.expected_events(entry_recent[recent], panel.stop[recent], x[recent]) * scale * panel.weight
    losses_last_year = round((panel.event & recent).sum() * panel.weight)

    rng = np.random.default_rng(seed)
    draws = rng.multivariate_normal(fit.beta, fit.covariance, size=DRAWS, method="eigh")
    # Only the last year's failures: they are what the "last year" counts and departments are made of.
    points, requests = failure_events(timeline, slow_hours, since=year_start)
    drivers: list[Driver] = []
    for j, failure in enumerate(usable):
        counts = panel.columns[failure.key][recent]
        estimate = float(_kept(expected, counts, np.array([hr[j]]))[0])
        spread = _kept(expected, counts, np.exp(draws[:, j]))
        eliminated = float((expected * (1.0 - hr[j] ** -counts)).sum())
        drivers.append(
            _driver(
                failure, points, requests, year_start, as_of_us, panel, recent,
                (float(hr[j]), float(low[j]), float(high[j]), float(p_values[j])),
                (estimate, float(np.percentile(spread, 2.5)), float(np.percentile(spread, 97.5)), eliminated),
                window_days,
            )
        )  # fmt: skip
    drivers.sort(key=lambda d: -(d.kept_per_year or 0.0))
    converged = fit.converged
    for failure in (f for f in FAILURES if f.signal and np.ptp(panel.columns[f.key]) > 0):
        signal_fit = _fit(panel, [*names, failure.key])
        converged = converged and signal_fit.converged
        s_hr, s_low, s_high = (float(v[-1]) for v in signal_fit.hazard_ratios())
        drivers.append(
            _driver(
                failure, points, requests, year_start, as_of_us, panel, recent,
                (s_hr, s_low, s_high, float(signal_fit.p_values()[-1])), None, window_days,
            )
        )  # fmt: skip
    adjusted = [
        Adjustment(name, ADJUSTERS[name], float(hr[len(usable) + i]), float(low[len(usable) + i]), float(high[len(usable) + i]))
        for i, name in enumerate(adjusters)
    ]  # fmt: skip
    departments: dict[str, DepartmentImpact] = {}
    for driver in drivers:
        if driver.kept_per_year is None:
            continue
        for department, share in driver.departments.items():
            impact = departments.setdefault(department, DepartmentImpact(department, 0.0, []))
            impact.kept_per_year += max(0.0, driver.kept_per_year) * share
            impact.failures.append(driver.label)
    ranked_departments = sorted(departments.values(), key=lambda d: -d.kept_per_year)
    table = [
        [
            d.label,
            d.department,
            f"{d.hazard_ratio:.2f} ({d.ci_low:.2f}-{d.ci_high:.2f})",
            "signal"
            if d.kept_per_year is None
            else f"{d.kept_per_year:.0f} ({d.kept_low:.0f}-{d.kept_high:.0f})",
            str(d.events_last_year),
        ]
        for d in drivers
    ]
    top = next((d for d in drivers if d.significant and d.kept_per_year is not None), None)
    headline = top.sentence if top else "No failure shows a clear effect on leaving yet."
    return DriversReport(
        as_of=as_of,
        definition=definition.label,
        method=method,
        window_days=window_days,
        customers=panel.population,
        rows=int(panel.event.size),
        losses=round(losses * panel.weight),
        losses_last_year=losses_last_year,
        predicted_losses_per_year=float(expected.sum()),
        drivers=drivers,
        adjusted_for=adjusted,
        departments=ranked_departments,
        no_data=[f.label for f in FAILURES if np.ptp(panel.columns[f.key]) == 0],
        headers=headers,
        table=table,
        headline=headline,
        converged=converged,
        extra={"log_likelihood": fit.log_likelihood, "null_log_likelihood": fit.null_log_likelihood},
    )


def _driver(
    failure: Failure,
    points: pl.DataFrame,
    requests: pl.DataFrame,
    since: int,
    until: int,
    panel: Panel,
    recent: np.ndarray,
    effect: tuple[float, float, float, float],
    kept: tuple[float, float, float, float] | None,
    window_days: int,
) -> Driver:
    hr, low, high, p = effect
    by_department = _departments(points, requests, failure.key, since, until)
    total = sum(by_department.values())
    shares = {name: count / total for name, count in by_department.items()} if total else {}
    department = next(iter(by_department), failure.department or "general")
    affected = round(
        np.unique(panel.customer_id[recent & (panel.columns[failure.key] > 0)]).size * panel.weight
    )
    significant = low > 1.0 or high < 1.0
    times = f"{hr:.2f} times (95% CI {low:.2f}-{high:.2f})"
    if kept is None:
        sentence = (
            f"Customers with {failure.label} in the last {window_days} days are {times} as likely to leave "
            "each month; a symptom to watch, not a failure to halve."
        )
        kept_values: tuple[float | None, ...] = (None, None, None, None)
    else:
        kept_values = kept
        sentence = (
            f"Each of the {failure.label} ({department}) multiplies the monthly chance of leaving by {times}; "
            f"halving them would keep about {kept[0]:.0f} customers a year ({kept[1]:.0f}-{kept[2]:.0f})."
        )
    return Driver(
        key=failure.key,
        label=failure.label,
        department=department,
        departments=shares,
        signal=failure.signal,
        events_last_year=total,
        customers_affected=affected,
        hazard_ratio=hr,
        ci_low=low,
        ci_high=high,
        p_value=p,
        significant=significant,
        kept_per_year=kept_values[0],
        kept_low=kept_values[1],
        kept_high=kept_values[2],
        kept_if_eliminated=kept_values[3],
        sentence=sentence,
    )
