"""Benchmark: triage quality and throughput on BANKING77 (77 banking intents, customer-service queries).

    python bench/triage.py

Trains on `../shared/data/text/banking77/train.csv` (8,622 rows) and on `train_10.csv` (10 per intent),
and scores on `valid.csv` (1,540 rows), in one run:
  - embeddings + LR: the triage classifier (all-MiniLM-L6-v2 int8 ONNX, mean pooling, logistic regression);
  - TF-IDF + SVM: word 1-2-grams and character 2-5-grams, linear SVM (the baseline to beat).
Also: for the embedding model, accuracy on the requests it answers and the share it sends to the triage
queue (confidence below the threshold), and throughput, texts per second embedded and classified with the
ONNX session on 2 threads (`valid.csv` texts, batches of 32, model already loaded).
Throughput is measured three ways on the `valid.csv` texts, model loaded: batches of 32 in one ONNX session
on 2 threads; one text at a time (what `receive_message` does for each new request: p50/p95 latency); and
two processes with one thread each (how two `tenure worker` processes on 2 cores would share them). The
load average before and after, and this process's CPU time over wall time, say how busy the machine was.
`--throughput-only` skips the accuracy runs (about a minute instead of several).
Reference (data README): embeddings + LR about 92-93% on valid.csv, TF-IDF + linear SVM about 89%.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "text" / "banking77"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, default=DATA, help="folder with train.csv, train_10.csv, valid.csv"
    )
    parser.add_argument("--throughput-only", action="store_true", help="skip the accuracy runs")
    parser.add_argument("--single", type=int, default=300, help="texts for the one-at-a-time latency run")
    args = parser.parse_args()

    from tenure.helpdesk.triage.baseline import TfidfBaseline
    from tenure.helpdesk.triage.classifier import DEFAULT_THRESHOLD, TriageClassifier
    from tenure.helpdesk.triage.dataset import read_labelled_csv
    from tenure.helpdesk.triage.embeddings import get_embedder
    from tenure.helpdesk.triage.metrics import scores

    valid = read_labelled_csv(args.data / "valid.csv")
    embedder = get_embedder()
    embedder.embed(valid.texts[:32])  # warm-up: the first run of an ONNX session allocates its buffers

    load_before = os.getloadavg()
    print(f"python {platform.python_version()}, cpus {os.cpu_count()}, load average {load_before[0]:.1f}")
    # Throughput: the whole triage path for new texts, embedding then classifying.
    cpu0, started = time.process_time(), time.perf_counter()
    valid_vectors = embedder.embed(valid.texts)
    embed_seconds = time.perf_counter() - started
    cpu_share = (time.process_time() - cpu0) / embed_seconds
    print(
        json.dumps(
            {
                "mode": "batches of 32, one session, 2 threads",
                "texts_per_s": round(len(valid.texts) / embed_seconds, 1),
                "seconds": round(embed_seconds, 2),
                "cpu_seconds_per_wall_second": round(cpu_share, 2),
            }
        )
    )
    latencies = []
    for text in valid.texts[: args.single]:
        t0 = time.perf_counter()
        embedder.embed([text])
        latencies.append(time.perf_counter() - t0)
    latencies.sort()
    print(
        json.dumps(
            {
                "mode": "one text at a time (receive_message), one session, 2 threads",
                "texts": len(latencies),
                "texts_per_s": round(len(latencies) / sum(latencies), 1),
                "p50_ms": round(1000 * latencies[len(latencies) // 2], 1),
                "p95_ms": round(1000 * latencies[int(len(latencies) * 0.95)], 1),
            }
        )
    )
    print(json.dumps(two_processes(valid.texts)))
    print(json.dumps({"load_average_before": load_before[0], "load_average_after": os.getloadavg()[0]}))
    if args.throughput_only:
        return

    for train_name in ("train.csv", "train_10.csv"):
        train = read_labelled_csv(args.data / train_name)
        t0 = time.perf_counter()
        train_vectors = embedder.embed(train.texts)
        t1 = time.perf_counter()
        model = TriageClassifier.train(train.texts, train.labels, vectors=train_vectors)
        t2 = time.perf_counter()
        predictions = model.predict_vectors(valid_vectors)
        classify_seconds = time.perf_counter() - t2
        guessed = [p.best_guess for p in predictions]
        answered = [
            (t, p.label) for t, p in zip(valid.labels, predictions, strict=True) if p.label is not None
        ]
        t3 = time.perf_counter()
        baseline = TfidfBaseline().fit(train.texts, train.labels)
        baseline_predicted = baseline.predict(valid.texts)
        t4 = time.perf_counter()
        row = {
            "train": train_name,
            "train_rows": len(train.texts),
            "valid_rows": len(valid.texts),
            "embeddings_lr": scores(valid.labels, guessed),
            "tfidf_svm": scores(valid.labels, baseline_predicted),
            "threshold": DEFAULT_THRESHOLD,
            "abstention_rate": 1 - len(answered) / len(valid.texts),
            "accuracy_when_answered": sum(t == p for t, p in answered) / len(answered) if answered else None,
            "seconds": {
                "embed_train": t1 - t0,
                "fit_lr": t2 - t1,
                "classify_valid": classify_seconds,
                "tfidf_fit_predict": t4 - t3,
            },
        }
        print(json.dumps(row))


def _embed_half(texts: list[str]) -> float:
    """In a child process: one single-threaded session; seconds to embed `texts` once it is loaded."""
    from tenure.helpdesk.triage.embeddings import Embedder

    embedder = Embedder(threads=1)
    embedder.embed(texts[:32])
    started = time.perf_counter()
    embedder.embed(texts)
    return time.perf_counter() - started


def two_processes(texts: list[str]) -> dict[str, object]:
    import multiprocessing

    halves = [texts[0::2], texts[1::2]]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        seconds = pool.map(_embed_half, halves)
    return {
        "mode": "two processes, one thread each",
        "texts_per_s": round(len(texts) / max(seconds), 1),
        "seconds": [round(x, 2) for x in seconds],
    }


if __name__ == "__main__":
    main()
