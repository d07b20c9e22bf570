"""Triage: route a request to a department from its text (sentence embeddings + a linear classifier)."""
