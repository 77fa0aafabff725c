"""The Agent Platform's surface: the same generate path and caches under
``projects/{p}/locations/{l}`` paths with a bearer token, its publisher models, and batch
prediction jobs that read and write Cloud Storage."""
