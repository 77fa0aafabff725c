"""Our small error hierarchy: a per-item failure carries the item id and a cause a user
can act on; everything else names the setting or resource at fault."""

from __future__ import annotations


class FlashfirstError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(FlashfirstError):
    """A setting or data file is wrong; the message names it."""


class NoBackendError(ConfigError):
    """No credentials, base URL or explicit emulator: nothing may run."""


class UnknownModelError(ConfigError):
    def __init__(self, model: str, where: str) -> None:
        super().__init__(f"unknown model {model!r} in {where}: add it there or fix the model id")
        self.model = model


class ItemError(FlashfirstError):
    """One item failed; its siblings go on."""

    def __init__(self, item_id: str, cause: str) -> None:
        super().__init__(f"item {item_id!r}: {cause}")
        self.item_id = item_id
        self.cause = cause

    def __reduce__(self) -> tuple:
        # Process and Dask task runners pickle exceptions; keep the two fields.
        return (type(self), (self.item_id, self.cause))


class MediaError(ItemError):
    """The item's media is unreadable, empty, mislabelled or failed to convert."""


class ProbeError(FlashfirstError):
    """A file could not be probed; raised before an item id is known."""

    def __init__(self, source: str, cause: str) -> None:
        super().__init__(f"{source}: {cause}")
        self.source = source
        self.cause = cause


class BudgetExceeded(FlashfirstError):
    """The run's estimate or its running spend is above the configured budget."""


class StorageError(FlashfirstError):
    """A read or write by URI failed; the message names the URI."""


class BatchJobFailed(FlashfirstError):
    """A Batch API job ended FAILED, EXPIRED or CANCELLED, or answered other than its
    ``batchStats`` say: the run fails with the job's name and the API's reason."""

    def __init__(self, job_name: str, state: str, reason: str) -> None:
        super().__init__(f"batch job {job_name} ended {state}: {reason}")
        self.job_name, self.state, self.reason = job_name, state, reason

    def __reduce__(self) -> tuple:
        return (type(self), (self.job_name, self.state, self.reason))


class ThinkingNotSupported(ConfigError):
    """An item asks for thinking its model does not take; refused before any call."""

    def __init__(self, model: str, asked: str, allowed: str) -> None:
        super().__init__(f"{model} does not take thinking {asked!r}: it accepts {allowed}")
        self.model, self.asked, self.allowed = model, asked, allowed

    def __reduce__(self) -> tuple:
        return (type(self), (self.model, self.asked, self.allowed))


class RetiredModel(ConfigError):
    """A run names a model past its shutdown date and the user did not insist."""
