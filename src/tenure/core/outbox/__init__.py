"""The outbox: every message to a customer is a row, delivered by the sweeper through a channel adapter."""
