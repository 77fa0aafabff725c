"""Gemini webhooks: subscriptions, signed deliveries (Standard Webhooks secrets or the
JWKS-signed JWT) with retries, and the batch and interaction ends they announce."""
