"""The packaged all-MiniLM-L6-v2 int8 ONNX model, run for real (no mocks)."""

from __future__ import annotations

import numpy as np

from tenure.helpdesk.triage.embeddings import DIMENSIONS, MAX_TOKENS, embed, get_embedder


def test_vectors_are_deterministic_and_unit_length() -> None:
    texts = ["My card has not arrived yet", "How do I reset my PIN?"]
    first, second = embed(texts), embed(texts)
    assert first.shape == (2, DIMENSIONS)
    assert first.dtype == np.float32
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)


def test_similar_texts_are_closer_than_unrelated_ones() -> None:
    card, card_again, weather = embed(
        [
            "Where is my new card? It still has not arrived.",
            "My card never came in the post",
            "Lovely sunny weather",
        ]
    )
    assert card @ card_again > card @ weather + 0.2
    assert card @ card_again > card_again @ weather + 0.2


def test_a_batch_gives_the_same_vectors_as_one_text_at_a_time() -> None:
    # Padding to the batch's longest text must not change the shorter texts' vectors.
    texts = ["hi", "I was charged twice for the same purchase at the supermarket yesterday evening"]
    together = embed(texts)
    alone = np.vstack([embed([text]) for text in texts])
    assert np.all(np.sum(together * alone, axis=1) > 0.999)


def test_empty_text_and_empty_list() -> None:
    vectors = embed(["", "   "])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embed([]).shape == (0, DIMENSIONS)


def test_huge_text_is_cut_at_the_models_maximum() -> None:
    embedder = get_embedder()
    huge = "refund " * 50_000
    assert embedder.token_count(huge) == MAX_TOKENS
    # Everything past the first MAX_TOKENS word pieces is ignored.
    np.testing.assert_allclose(embed([huge])[0], embed(["refund " * (MAX_TOKENS + 10)])[0], atol=1e-5)


def test_one_embedder_per_process() -> None:
    assert get_embedder() is get_embedder()
