"""Benchmark: customer-value models.

    python bench/clv.py                    # both parts
    python bench/clv.py --customers 200000 # smaller fit benchmark
    python bench/clv.py --skip-fit         # only the CDNOW holdout

(a) Fit BG/NBD on 1,000,000 customers simulated from known parameters (fixed seed) with
    tenure.insights.clv and with the `lifetimes` package (if installed) on the same arrays, in the same run;
    print both times, the speed-up and both parameter sets. Two inputs: times in whole days, as
    `rfm_summary` produces them, and continuous times.
(b) CDNOW 39-week holdout: build the calibration summary (weeks 1-39) from CDNOW_sample.txt, check it
    against the shipped cdnow_customers_summary_with_transactions.csv, then forecast total repeat purchase
    days in weeks 40-78 with BG/NBD and the alternatives, beside the actual count. Alternatives are
    chosen on the calibration weeks only (e.g. the (M)BG/CNBD-k variant with the highest likelihood).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from tenure.insights.clv import BetaGeo, ParetoNBD, rfm_summary
from tenure.insights.clv_bgnbd import simulate
from tenure.insights.clv_cdnow import CALIBRATION_END, HOLDOUT_END, read_cdnow_sample
from tenure.insights.clv_cnbd import CNBDk, interval_logs

SEED = 20261124
TRUTH = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426)  # CDNOW's estimates, in weeks
CDNOW = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cdnow"


def timed(fit: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fit()
    return result, time.perf_counter() - start


def fmt(params: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.6f}" for k, v in params.items())


def fit_benchmark(customers: int, whole_days: bool) -> None:
    rng = np.random.default_rng(SEED)
    observed_days = rng.integers(7, 547, customers)  # joined up to 78 weeks ago
    frequency, recency, age = simulate(TRUTH, observed_days / 7, rng)
    if whole_days:
        recency = np.floor(recency * 7) / 7
    label = "whole days" if whole_days else "continuous times"
    print(f"\n(a) BG/NBD fit on {customers:,} simulated customers ({label}); truth: {fmt(TRUTH.to_dict())}")
    print(f"    repeat buyers {np.mean(frequency > 0):.1%}, mean frequency {frequency.mean():.3f}")

    ours, ours_seconds = timed(lambda: BetaGeo.fit(frequency, recency, age))
    ours_ll = ours.log_likelihood(frequency, recency, age).sum()
    print(f"    tenure   {ours_seconds:8.2f} s  {fmt(ours.to_dict())}  log-likelihood {ours_ll:.4f}")
    try:
        from lifetimes import BetaGeoFitter
    except ImportError as error:
        print(f"    lifetimes not importable ({error}); no comparison")
        return
    theirs, theirs_seconds = timed(lambda: BetaGeoFitter().fit(frequency, recency, age))
    params = {k: float(v) for k, v in theirs.params_.items()}
    theirs_ll = BetaGeo(**params).log_likelihood(frequency, recency, age).sum()
    print(f"    lifetimes {theirs_seconds:7.2f} s  {fmt(params)}  log-likelihood {theirs_ll:.4f}")
    gap = max(abs(ours.to_dict()[k] - params[k]) for k in params)
    print(f"    speed-up {theirs_seconds / ours_seconds:.1f}x; largest parameter difference {gap:.2e}")


def gap(frame: pl.DataFrame, ours: str, theirs: str) -> float:
    return float(np.max(np.abs(frame[ours].to_numpy() - frame[theirs].to_numpy())))


def holdout_benchmark() -> None:
    extract = read_cdnow_sample(CDNOW / "CDNOW_sample.txt")
    calibration = rfm_summary(extract, CALIBRATION_END)
    shipped = pl.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv")
    joined = calibration.join(shipped, left_on="customer_id", right_on="ID", how="inner")
    print(f"\n(b) CDNOW: calibration summary of {calibration.height} customers built from the transactions;")
    print(
        f"    vs the shipped summary ({shipped.height} rows, 2 decimals): "
        f"frequency differs for {int((joined['frequency'] != joined['x']).sum())}, largest gaps "
        f"recency {gap(joined, 'recency', 't_x'):.4f}, T {gap(joined, 'T', 'T_right'):.4f}, "
        f"monetary {gap(joined, 'monetary_value', 'zbar'):.4f}"
    )
    events = pl.from_arrow(extract.events)
    assert isinstance(events, pl.DataFrame)
    days = events.select("customer_id", pl.col("occurred_at").dt.date().alias("day")).unique()
    in_holdout = (pl.col("day") >= CALIBRATION_END.date()) & (pl.col("day") < HOLDOUT_END.date())
    actual = days.filter(in_holdout).height
    first = days.group_by("customer_id").agg(pl.col("day").min().dt.month().alias("cohort"))
    data = calibration.join(first, on="customer_id").sort("customer_id")
    f, r, t = (data[c].to_numpy().astype(np.float64) for c in ("frequency", "recency", "T"))
    cohort = data["cohort"].to_numpy()
    weeks = 39.0

    def whole(model: type[BetaGeo] | type[ParetoNBD]) -> float:
        return float(model.fit(f, r, t).conditional_expected_purchases(weeks, f, r, t).sum())

    def by_cohort(model: type[BetaGeo] | type[ParetoNBD]) -> float:
        total = 0.0
        for month in np.unique(cohort):
            k = cohort == month
            total += model.fit(f[k], r[k], t[k]).conditional_expected_purchases(weeks, f[k], r[k], t[k]).sum()
        return total

    forecasts: dict[str, float] = {
        "BG/NBD": whole(BetaGeo),
        "Pareto/NBD": whole(ParetoNBD),
        "BG/NBD per acquisition-month cohort": by_cohort(BetaGeo),
        "Pareto/NBD per acquisition-month cohort": by_cohort(ParetoNBD),
    }
    forecasts["mean of BG/NBD and Pareto/NBD"] = (forecasts["BG/NBD"] + forecasts["Pareto/NBD"]) / 2
    # Regular buyers: (M)BG/CNBD-k, the variant chosen by calibration likelihood alone (never the holdout).
    litt = data.join(interval_logs(extract, CALIBRATION_END), on="customer_id")["log_intervals"].to_numpy()
    chosen, candidates = CNBDk.select(f, r, t, litt, max_k=4)
    print(
        "    (M)BG/CNBD-k calibration log-likelihoods: " + ", ".join(f"{n} {ll:.1f}" for n, ll in candidates)
    )
    for modified in (False, True):  # for comparison: what regularity (k = 2) would have forecast
        other = CNBDk.fit(f, r, t, litt, k=2, modified=modified)
        forecasts[other.name] = float(other.conditional_expected_purchases(weeks, f, r, t).sum())
    forecasts[f"(M)BG/CNBD-k by calibration likelihood: {chosen.name}"] = float(
        chosen.conditional_expected_purchases(weeks, f, r, t).sum()
    )
    try:
        from lifetimes import ModifiedBetaGeoFitter

        mbg = ModifiedBetaGeoFitter().fit(f, r, t)
        forecasts["MBG/NBD (lifetimes)"] = float(
            mbg.conditional_expected_number_of_purchases_up_to_time(weeks, f, r, t).sum()
        )
    except ImportError:
        pass
    baseline = abs(forecasts["BG/NBD"] - actual)
    print(f"    repeat purchase days in weeks 40-78: actual {actual}")
    for name, forecast in forecasts.items():
        error = forecast - actual
        print(
            f"    {name:42s} {forecast:8.1f}  error {error:+7.1f} ({error / actual:+.1%}), "
            f"{abs(error) / baseline:.2f} of BG/NBD's"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--skip-fit", action="store_true")
    parser.add_argument("--skip-holdout", action="store_true")
    options = parser.parse_args()
    if not options.skip_fit:
        fit_benchmark(options.customers, whole_days=True)
        fit_benchmark(options.customers, whole_days=False)
    if not options.skip_holdout:
        holdout_benchmark()


if __name__ == "__main__":
    main()
