"""What a run is given: discovery of items from lists, manifests and folders, skipped files,
text and document sources, the shared context, answer checks and default prompts, and
the objects uploads and bucket polls announce (each version starts one run)."""
