"""``cachedContents``: explicit context caches, created, listed, updated and deleted, each
with its tokens counted once and billed as cached by the calls that use it."""
