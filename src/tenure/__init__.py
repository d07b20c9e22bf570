"""Tenure: a self-hosted customer-retention platform."""
