"""Calling the model: rate limits, retries, validation, escalation and the answer store."""
