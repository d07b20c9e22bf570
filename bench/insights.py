"""Insights at scale: churn features and scores for 1,000,000 customers from a 50,000,000-event timeline.

    python bench/insights.py                      # full size (about 1 GB of Parquet in a temp dir)
    python bench/insights.py --customers 20000 --events 1000000
    python bench/insights.py --data DIR --keep    # generate once into DIR, reuse it on later runs

A synthetic timeline (fixed seed, vectorised numpy) is written straight to Parquet in the extract's
schema, in a child process so its memory is not counted against the scoring run. The scoring run then
times, on 2 threads: churn features for every customer at a training date and at the scoring date
(Polars streaming over `scan_parquet`, the same `tenure.insights.features` plan the app uses), training a
small LightGBM model on a sample (unless `--model FILE` gives one), scoring everyone, and then the
drivers analysis ("what to fix first") on the whole base, which builds its customer-month panel for a
seeded stratified sample of customers above `drivers.SAMPLE_CUSTOMERS`. Each stage
prints its seconds and the process's peak resident memory so far (ru_maxrss: Arrow and Polars
allocate outside Python, so tracemalloc would not see them).
"""

from __future__ import annotations

import os

os.environ.setdefault("POLARS_MAX_THREADS", "2")  # before polars is imported: the goal is 2 cores

import argparse
import datetime as dt
import multiprocessing
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

THREADS = 2
END = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
HISTORY_DAYS = 4 * 365
DAY_US = 86_400_000_000
CHUNK_CUSTOMERS = 50_000

# Everyday kinds and their share of the timeline (shaped like the demo company's), and the failures,
# whose rate grows with each customer's hidden "trouble" (which also drives when they leave).
NORMAL = {
    "order.placed": 0.135,
    "job.scheduled": 0.135,
    "job.completed": 0.13,
    "invoice.sent": 0.13,
    "payment.received": 0.12,
    "request.received": 0.11,
    "survey.answered": 0.065,
    "message.sent": 0.03,
    "plan.renewed": 0.006,
}
FAILURES = {
    "request.callback": 0.30,
    "payment.late": 0.24,
    "job.late": 0.22,
    "appointment.window_missed": 0.06,
    "request.sla_breached": 0.05,
    "request.repeat_contact": 0.04,
    "job.not_fixed": 0.03,
    "request.reopened": 0.03,
    "job.missed": 0.02,
    "billing.error": 0.01,
}
FAILURE_SHARE = 0.08  # of a customer's everyday rows at average trouble
KINDS = ("customer.created", "customer.lost", "request.answered", *NORMAL, *FAILURES)
CODE = {kind: index for index, kind in enumerate(KINDS)}
FILLER = tuple(CODE[k] for k in ("job.scheduled", "invoice.sent", "payment.received"))
CHANNELS = ("phone", "email", "web", "sms", "chat")
DEPARTMENTS = ("billing", "service", "scheduling", "sales", "general", "complaint")
LOSS_REASONS = ("moved away", "price", "competitor", "poor service", "slow response")


def peak_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB


@contextmanager
def stage(name: str, times: dict[str, float]) -> Iterator[None]:
    start = time.perf_counter()
    yield
    times[name] = time.perf_counter() - start
    print(f"{name:<34} {times[name]:8.1f} s   peak RSS {peak_mb():8.0f} MB", flush=True)


# --- the synthetic timeline -----------------------------------------------------------------------
def _customers(rng: np.random.Generator, current: int) -> dict[str, np.ndarray]:
    """Customers in joining order until `current` of them are still customers at END; the lost come on top."""
    end_us = int(END.timestamp() * 1_000_000)
    drawn = int(current * 1.8) + 1000  # about 27% are lost by END; draw plenty, then cut
    people = _draw_customers(rng, drawn, end_us)
    alive = np.flatnonzero(~people["is_lost"])
    if len(alive) < current:
        raise SystemExit("drew too few current customers; raise the oversampling factor")
    count = int(alive[current - 1]) + 1
    people = {name: values[:count] for name, values in people.items()}
    people["id"] = np.arange(1, count + 1, dtype=np.int64)
    return people


def _draw_customers(rng: np.random.Generator, count: int, end_us: int) -> dict[str, np.ndarray]:
    joined = end_us - rng.integers(DAY_US, HISTORY_DAYS * DAY_US, size=count)
    trouble = np.maximum(0.02, rng.gamma(0.8, 1.25, size=count))  # mean about 1, widely spread
    company = rng.random(count) < 0.1
    yearly_hazard = 0.22 * trouble * np.where(company, 0.75, 1.0)
    leaves_after = np.minimum(rng.exponential(365 / yearly_hazard), 100 * 365) * DAY_US
    lost = joined + leaves_after.astype(np.int64)
    is_lost = lost < end_us
    return {
        "joined": joined,
        "lost": np.where(is_lost, lost, 0),
        "is_lost": is_lost,
        "until": np.where(is_lost, lost, end_us),
        "trouble": trouble,
        "company": company,
        "activity": rng.lognormal(0.0, 0.5, size=count) * np.where(company, 1.8, 1.0),
    }


def _ts(values: np.ndarray) -> pa.Array:
    return pa.array(values, pa.int64()).cast(pa.timestamp("us", tz="UTC"))


def _floats(values: np.ndarray) -> pa.Array:
    return pa.array(values, pa.float64(), mask=np.isnan(values))


def _strings(codes: np.ndarray, words: tuple[str, ...]) -> pa.Array:
    """Codes into `words` as a string column; -1 is null."""
    indices = pa.array(codes.astype(np.int8), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, pa.array(words)).dictionary_decode()


def _event_chunk(
    rng: np.random.Generator, people: dict[str, np.ndarray], rows: np.ndarray, ref_base: int
) -> pa.Table:
    from tenure.insights.extract import EVENTS_SCHEMA

    n_people = len(rows)
    owner = np.repeat(np.arange(n_people), rows)
    n = len(owner)
    first = np.concatenate(([0], np.cumsum(rows)[:-1]))
    joined, until = people["joined"][owner], people["until"][owner]
    at = joined + (rng.random(n) * (until - joined - 1)).astype(np.int64)

    trouble = people["trouble"][owner]
    failing = rng.random(n) < np.minimum(0.5, FAILURE_SHARE * trouble)
    normal = np.array([CODE[k] for k in NORMAL])[
        rng.choice(len(NORMAL), size=n, p=np.array(list(NORMAL.values())) / sum(NORMAL.values()))
    ]
    failure = np.array([CODE[k] for k in FAILURES])[
        rng.choice(len(FAILURES), size=n, p=np.array(list(FAILURES.values())) / sum(FAILURES.values()))
    ]
    kind = np.where(failing, failure, normal).astype(np.int16)
    kind[first] = CODE["customer.created"]
    at[first] = people["joined"]
    lost_rows = first[people["is_lost"]] + 1  # every lost customer has at least two rows
    kind[lost_rows] = CODE["customer.lost"]
    at[lost_rows] = people["lost"][people["is_lost"]]

    # Most requests are answered (fewer for customers in trouble); the answer is a row of its own.
    received = np.flatnonzero(kind == CODE["request.received"])
    answered = received[rng.random(len(received)) > np.minimum(0.5, 0.03 * trouble[received])]
    hours = rng.lognormal(np.log(3.0) + 0.6 * trouble[answered], 1.3)
    answer_at = np.minimum(at[answered] + (hours * 3.6e9).astype(np.int64), until[answered] - 1)
    # ...and as many everyday rows go, so the chunk keeps its size.
    filler = np.flatnonzero(np.isin(kind, FILLER))
    keep = np.ones(n, dtype=bool)
    keep[rng.choice(filler, size=len(answered), replace=False)] = False

    ref = np.full(n, -1, dtype=np.int64)
    ref[received] = ref_base + np.arange(len(received))
    owner = np.concatenate((owner[keep], owner[answered]))
    kind = np.concatenate((kind[keep], np.full(len(answered), CODE["request.answered"], dtype=np.int16)))
    at = np.concatenate((at[keep], answer_at))
    ref = np.concatenate((ref[keep], ref[answered]))
    trouble = people["trouble"][owner]
    hours = np.concatenate((np.full(keep.sum(), np.nan), hours))
    m = len(kind)

    def where(kinds: tuple[str, ...]) -> np.ndarray:
        return np.isin(kind, [CODE[k] for k in kinds])

    nan = np.full(m, np.nan)
    money = where(("order.placed", "invoice.sent", "payment.received", "payment.late"))
    amount = np.where(money, np.round(rng.lognormal(np.log(320), 0.9, m), 2), nan)
    amount[kind == CODE["plan.renewed"]] = 189.0
    survey = kind == CODE["survey.answered"]
    nps = np.where(survey, np.clip(np.round(rng.normal(8.8 - 1.6 * trouble, 1.8)), 0, 10), nan)
    csat = np.where(survey, np.clip(np.round(rng.normal(4.6 - 0.8 * trouble, 0.8)), 1, 5), nan)
    late = where(("job.late", "appointment.window_missed"))
    minutes = np.where(late, np.round(10 + rng.exponential(40, m)), nan)
    callback = where(("request.callback", "request.repeat_contact"))
    waiting = np.where(callback, np.round(rng.uniform(4, 120, m), 1), nan)
    request = where(("request.received", "request.answered"))
    channel = np.where(request, rng.integers(0, len(CHANNELS), m), -1)
    has_department = where(("request.received", "request.callback", "request.sla_breached"))
    department = np.where(has_department, rng.integers(0, len(DEPARTMENTS), m), -1)

    refs = pa.array(ref, mask=ref < 0).cast(pa.string())
    columns = {
        "customer_id": pa.array(people["id"][owner]),
        "kind": _strings(kind, KINDS),
        "occurred_at": _ts(at),
        "channel": _strings(channel, CHANNELS),
        "amount": _floats(amount),
        "nps": _floats(nps),
        "csat": _floats(csat),
        "response_hours": _floats(np.round(hours, 2)),
        "minutes_late": _floats(minutes),
        "hours_waiting": _floats(waiting),
        "department": _strings(department, DEPARTMENTS),
        "ref": refs,
    }
    return pa.table(columns).cast(EVENTS_SCHEMA)


def generate(directory: Path, customers: int, events: int, seed: int) -> None:
    """Write customers.parquet and events.parquet (exactly `events` rows) into `directory`.

    `customers` is how many are still customers at the scoring date (END); those lost before it are extra.
    """
    from tenure.insights.extract import CUSTOMERS_FILE, CUSTOMERS_SCHEMA, EVENTS_FILE, EVENTS_SCHEMA

    rng = np.random.default_rng(seed)
    people = _customers(rng, customers)
    fixed = 1 + people["is_lost"].astype(np.int64)  # created (+ lost)
    weight = people["activity"] * (people["until"] - people["joined"])
    if events < fixed.sum():
        raise SystemExit(f"--events must be at least {fixed.sum()} for {len(fixed)} customers")
    rows = fixed + rng.multinomial(events - int(fixed.sum()), weight / weight.sum())

    reasons = rng.integers(0, len(LOSS_REASONS), len(fixed))
    table = pa.table(
        {
            "customer_id": pa.array(people["id"]),
            "joined_at": _ts(people["joined"]),
            "lifecycle": pa.array(np.where(people["is_lost"], "lost", "active")),
            "lost_at": pa.array(people["lost"], pa.int64(), mask=~people["is_lost"]).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "lost_reason": _strings(np.where(people["is_lost"], reasons, -1), LOSS_REASONS),
            "kind": pa.array(np.where(people["company"], "company", "person")),
        }
    ).cast(CUSTOMERS_SCHEMA)
    pq.write_table(table, directory / CUSTOMERS_FILE, compression="zstd")

    written = 0
    with pq.ParquetWriter(directory / EVENTS_FILE, EVENTS_SCHEMA, compression="zstd") as writer:
        for start in range(0, len(fixed), CHUNK_CUSTOMERS):
            part = {name: values[start : start + CHUNK_CUSTOMERS] for name, values in people.items()}
            chunk = _event_chunk(rng, part, rows[start : start + CHUNK_CUSTOMERS], ref_base=written)
            writer.write_table(chunk, row_group_size=1_000_000)
            written += chunk.num_rows
    assert written == events, (written, events)
    print(
        f"  generated {len(fixed):,} customers ({int(people['is_lost'].sum()):,} lost before the scoring date)"
    )


def _generate_in_child(directory: Path, customers: int, events: int, seed: int) -> None:
    generate(directory, customers, events, seed)
    print(f"{'  (generator peak RSS)':<34} {'':>8}     peak RSS {peak_mb():8.0f} MB", flush=True)


# --- the measured run -----------------------------------------------------------------------------
def drivers_stage(directory: Path, as_of: dt.datetime, times: dict[str, float]) -> None:
    """What to fix first on the whole base: read only the event kinds and columns the drivers analysis
    uses, then `find_drivers` (which samples customers above its size limit)."""
    from tenure.insights.drivers import SAMPLE_CUSTOMERS, find_drivers, kinds_read
    from tenure.insights.extract import CUSTOMERS_FILE, EVENTS_FILE
    from tenure.insights.spans import TimelinePart

    with stage("drivers: read the kinds they use", times):
        columns = ["customer_id", "kind", "occurred_at", "department", "ref", "response_hours", "nps", "csat"]
        events = pq.read_table(
            directory / EVENTS_FILE, columns=columns, filters=[("kind", "in", sorted(kinds_read()))]
        )
        timeline = TimelinePart(events, pq.read_table(directory / CUSTOMERS_FILE))
    print(
        f"  {events.num_rows:,} events of {len(kinds_read())} kinds, {events.nbytes / 1e6:,.0f} MB in memory"
    )
    with stage("drivers: panel + Cox + intervals", times):
        report = find_drivers(timeline, as_of)
    top = report.drivers[0] if report.drivers else None
    print(
        f"  {report.method}\n  {report.rows:,} customer-month rows (sample limit {SAMPLE_CUSTOMERS:,} customers), "
        f"converged {report.converged}; top: "
        + (
            f"{top.label}, hazard ratio {top.hazard_ratio:.2f} ({top.ci_low:.2f}-{top.ci_high:.2f}), "
            f"about {top.kept_per_year:,.0f} customers a year kept if halved"
            if top
            else report.note
        )
    )
    print(
        f"RESULT drivers {times['drivers: read the kinds they use'] + times['drivers: panel + Cox + intervals']:.1f} s "
        f"(read {times['drivers: read the kinds they use']:.1f} s + analysis {times['drivers: panel + Cox + intervals']:.1f} s); "
        f"peak RSS {peak_mb():,.0f} MB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--customers", type=int, default=1_000_000, help="current customers to score (the lost come on top)"
    )
    parser.add_argument("--events", type=int, default=50_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--data", type=Path, help="directory for the Parquet extract (reused if it is there)")
    parser.add_argument("--keep", action="store_true", help="keep the generated extract")
    parser.add_argument(
        "--model", type=Path, help="a LightGBM text model over tenure's FEATURES (else trained here)"
    )
    parser.add_argument("--train-sample", type=int, default=100_000)
    args = parser.parse_args(argv)

    import lightgbm as lgb
    import polars as pl
    from sklearn.metrics import roc_auc_score

    from tenure.insights.extract import CUSTOMERS_FILE, EVENTS_FILE, EVENTS_SCHEMA, TimelineExtract
    from tenure.insights.features import FEATURE_NAMES, build_features_from_parquet, churn_labels

    directory = args.data or Path(tempfile.mkdtemp(prefix="tenure-insights-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    print(
        f"insights bench: {args.customers:,} customers, {args.events:,} events, seed {args.seed}, "
        f"{THREADS} threads (Polars {pl.__version__}, LightGBM {lgb.__version__}), data in {directory}"
    )
    try:
        if not (directory / EVENTS_FILE).exists():
            with stage("generate Parquet (child process)", times):
                child = multiprocessing.get_context("spawn").Process(
                    target=_generate_in_child, args=(directory, args.customers, args.events, args.seed)
                )
                child.start()
                child.join()
                if child.exitcode:
                    return child.exitcode
        events_rows = pq.ParquetFile(directory / EVENTS_FILE).metadata.num_rows
        size_mb = sum(path.stat().st_size for path in directory.glob("*.parquet")) / 1e6
        print(f"extract: {events_rows:,} events, {size_mb:,.0f} MB of Parquet")

        # Labels need only the customers; loading the events too would hold all 50M rows in memory.
        customers = pq.read_table(directory / CUSTOMERS_FILE)
        customers_only = TimelineExtract(events=EVENTS_SCHEMA.empty_table(), customers=customers)

        def features(as_of: dt.datetime) -> pl.DataFrame:
            return build_features_from_parquet(directory, as_of)

        score_date, train_date, horizon = END, END - dt.timedelta(days=180), 180
        if args.model is None:
            with stage("features at training date", times):
                train = features(train_date)
            with stage("labels + train LightGBM on sample", times):
                labelled = train.join(churn_labels(customers_only, train_date, horizon), on="customer_id")
                sample = labelled.sample(n=min(args.train_sample, labelled.height), seed=args.seed)
                cut = int(sample.height * 0.8)
                fit, check = sample[:cut], sample[cut:]
                params = {
                    "objective": "binary",
                    "num_threads": THREADS,
                    "learning_rate": 0.08,
                    "num_leaves": 31,
                    "min_data_in_leaf": 50,
                    "verbose": -1,
                    "seed": args.seed,
                }
                booster = lgb.train(
                    params,
                    lgb.Dataset(
                        fit.select(FEATURE_NAMES).to_numpy(),
                        fit["churned"].to_numpy(),
                        feature_name=list(FEATURE_NAMES),
                    ),
                    num_boost_round=150,
                )
                auc = roc_auc_score(
                    check["churned"].to_numpy(), booster.predict(check.select(FEATURE_NAMES).to_numpy())
                )
            print(
                f"  model trained here on {cut:,} customers at {train_date:%Y-%m-%d} "
                f"(label: lost within {horizon} days; churn rate {np.mean(labelled['churned'].to_numpy()):.1%}); "
                f"AUC on {check.height:,} held out: {auc:.3f}"
            )
            del train, labelled, sample
        else:
            booster = lgb.Booster(model_file=str(args.model))
            print(f"  model from {args.model}")

        with stage("features at scoring date (all)", times):
            now = features(score_date)
        with stage("score everyone (LightGBM predict)", times):
            matrix = now.select(FEATURE_NAMES).to_numpy()
            probability = booster.predict(matrix, num_threads=THREADS)
            scored = now.select("customer_id").with_columns(churn_probability=probability)
        print(
            f"scored {scored.height:,} current customers at {score_date:%Y-%m-%d}; "
            f"mean probability {np.mean(probability):.3f}"
        )
        feature_time = times["features at scoring date (all)"]
        print(
            f"RESULT features {feature_time:.1f} s + score {times['score everyone (LightGBM predict)']:.1f} s "
            f"for {scored.height:,} customers from {events_rows:,} events; peak RSS {peak_mb():,.0f} MB "
            + (
                f"(generator child peak {peak_mb(resource.RUSAGE_CHILDREN):,.0f} MB)"
                if "generate Parquet (child process)" in times
                else "(extract reused from an earlier run)"
            )
        )
        del now, matrix, probability, scored
        drivers_stage(directory, score_date, times)
    finally:
        if args.data is None and not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
