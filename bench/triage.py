"""Benchmark: triage quality and throughput on BANKING77 (77 banking intents, customer-service queries).

    python bench/triage.py

Trains on `../shared/data/text/banking77/train.csv` (8,622 rows) and on `train_10.csv` (10 per intent),
and scores on `valid.csv` (1,540 rows), in one run:
  - embeddings + LR: the triage classifier (all-MiniLM-L6-v2 int8 ONNX, mean pooling, logistic regression);
  - TF-IDF + SVM: word 1-2-grams and character 2-5-grams, linear SVM (the baseline to beat).
Also: for the embedding model, accuracy on the requests it answers and the share it sends to the triage
queue (confidence below the threshold), and throughput, texts per second embedded and classified with the
ONNX session on 2 threads (`valid.csv` texts, batches of 32, model already loaded).
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
    args = parser.parse_args()

    from tenure.helpdesk.triage.baseline import TfidfBaseline
    from tenure.helpdesk.triage.classifier import DEFAULT_THRESHOLD, TriageClassifier
    from tenure.helpdesk.triage.dataset import read_labelled_csv
    from tenure.helpdesk.triage.embeddings import THREADS, get_embedder
    from tenure.helpdesk.triage.metrics import scores

    valid = read_labelled_csv(args.data / "valid.csv")
    embedder = get_embedder()
    embedder.embed(valid.texts[:32])  # warm-up: the first run of an ONNX session allocates its buffers

    # Throughput: the whole triage path for new texts, embedding then classifying.
    started = time.perf_counter()
    valid_vectors = embedder.embed(valid.texts)
    embed_seconds = time.perf_counter() - started
    print(f"python {platform.python_version()}, cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")

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
            "seconds": {"embed_train": t1 - t0, "fit_lr": t2 - t1, "tfidf_fit_predict": t4 - t3},
        }
        print(json.dumps(row))
        if train_name == "train.csv":
            throughput = len(valid.texts) / (embed_seconds + classify_seconds)
            print(
                json.dumps(
                    {
                        "throughput_texts_per_s": throughput,
                        "onnx_threads": THREADS,
                        "texts": len(valid.texts),
                        "embed_seconds": embed_seconds,
                        "classify_seconds": classify_seconds,
                    }
                )
            )


if __name__ == "__main__":
    main()
