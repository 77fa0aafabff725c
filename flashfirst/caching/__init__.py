"""Explicit context caching that pays: break-even, reuse across runs, TTL, cleanup."""
