"""One run's life outside the items: the settings overrides it was started with, what its tasks
share in a process, the terms it is held to, its shared state across workers, its progress,
and stopping it well."""
