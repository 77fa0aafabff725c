"""Our small error hierarchy: a per-item failure carries the item id, its kind and a cause
a user can act on; everything else names the setting or resource at fault. Every error the
project raises on purpose derives from ``FlashfirstError`` (tests/test_error_hierarchy.py);
Prefect-layer ones (``RunFailed``) live in their layer."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flashfirst.failures import FailureKind

_PACIFIC = ZoneInfo("America/Los_Angeles")  # Google resets daily quotas at midnight Pacific


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


class ManifestError(ConfigError):
    """Lines of a manifest that cannot be run; none of it was started."""

    def __init__(self, uri: str, problems: list[str], not_started: list[str]) -> None:
        problems = sorted(problems, key=lambda p: int(p.split()[1].rstrip(":,")))
        n = _MANIFEST_LINES_SHOWN
        shown = problems[:n] + ([f"... and {len(problems) - n} more"]
                                if len(problems) > n else [])
        good = ", ".join(not_started[:n]) + (
            f" and {len(not_started) - n} more" if len(not_started) > n else "")
        super().__init__(
            f"{uri}: {len(problems)} problem(s); nothing was started, fix the lines and run "
            "again:\n  " + "\n  ".join(shown)
            + (f"\nnot started (these lines are fine): {good}" if not_started else ""))
        self.uri, self.problems, self.not_started = uri, problems, not_started

    def __reduce__(self) -> tuple:
        return (type(self), (self.uri, self.problems, self.not_started))


_MANIFEST_LINES_SHOWN = 20


class DuplicateIds(ConfigError):
    """Two inputs would run under one id (results, answers and failures are keyed by it, so
    one would replace the other): refused before any call, naming both."""

    def __init__(self, clashes: list[str]) -> None:
        n = _MANIFEST_LINES_SHOWN
        shown = clashes[:n] + ([f"... and {len(clashes) - n} more"] if len(clashes) > n else [])
        super().__init__(f"{len(clashes)} id clash(es), each would run two inputs as one; "
                         "nothing was started, rename one of each:\n  " + "\n  ".join(shown))
        self.clashes = clashes

    def __reduce__(self) -> tuple:
        return (type(self), (self.clashes,))


class ItemError(FlashfirstError):
    """One item failed before inference; its siblings go on. ``kind`` is what the report
    counts it as (the class's own unless the raiser knows better, e.g. storage)."""

    default_kind = FailureKind.SOURCE_UNREADABLE

    def __init__(self, item_id: str, cause: str, kind: FailureKind | None = None) -> None:
        super().__init__(f"item {item_id!r}: {cause}")
        self.item_id = item_id
        self.cause = cause
        self.kind = kind or self.default_kind

    def __reduce__(self) -> tuple:
        # Process and Dask task runners pickle exceptions; keep the fields.
        return (type(self), (self.item_id, self.cause, self.kind))


class MediaError(ItemError):
    """The item's media is unreadable, empty, mislabelled or failed to convert."""

    default_kind = FailureKind.MEDIA_UNREADABLE


class MediaUploadError(MediaError):
    """The upload failed; ``transient`` says whether trying again may help."""

    default_kind = FailureKind.UPLOAD_FAILED

    def __init__(self, item_id: str, cause: str, *, transient: bool) -> None:
        super().__init__(item_id, cause)
        self.transient = transient

    def __reduce__(self) -> tuple[object, ...]:
        """Picklable (process and Dask task runners send failures between processes)."""
        return _rebuild_upload_error, (self.item_id, self.cause, self.transient)


def _rebuild_upload_error(item_id: str, cause: str, transient: bool) -> MediaUploadError:
    return MediaUploadError(item_id, cause, transient=transient)


class NotDelivered(FlashfirstError, ValueError):
    """The media was prepared without a client and is too large (or not allowed) inline."""


class FfmpegFailed(FlashfirstError):
    """ffmpeg exited non-zero; ``stderr_tail`` holds its last error lines."""

    def __init__(self, returncode: int, stderr_tail: str) -> None:
        super().__init__(f"ffmpeg exited with {returncode}: {stderr_tail}")
        self.returncode = returncode
        self.stderr_tail = stderr_tail

    def __reduce__(self) -> tuple:
        return (type(self), (self.returncode, self.stderr_tail))


class NoUsableOutput(FlashfirstError):
    """ffmpeg succeeded but wrote nothing worth sending (e.g. audio silent throughout)."""


class ProbeError(FlashfirstError):
    """A file could not be probed; raised before an item id is known."""

    def __init__(self, source: str, cause: str) -> None:
        super().__init__(f"{source}: {cause}")
        self.source = source
        self.cause = cause


class QuotaExhausted(FlashfirstError):
    """A per-day quota of a model is used up: nothing more is sent to it today."""

    def __init__(self, model: str, quota: str, until: float) -> None:
        when = datetime.fromtimestamp(until, _PACIFIC).strftime("%Y-%m-%d %H:%M %Z")
        super().__init__(f"daily quota of {model} used up ({quota}); nothing more is sent "
                         f"to it until the quota resets at {when}")
        self.model, self.quota, self.until = model, quota, until

    def __reduce__(self) -> tuple:
        return (type(self), (self.model, self.quota, self.until))


class AnnounceFailed(FlashfirstError):
    """Prefect did not take an object's event (the bridge's or the poller's); the object
    is released, so the notification is delivered again or the next poll retries it."""


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


class RefusedBeforeCall(ConfigError):
    """An item asks its model for something the model does not take (thinking, an input
    type): refused before any call, the item fails as bad input, its siblings go on."""

    kind = FailureKind.BAD_INPUT


class OverWindow(RefusedBeforeCall):
    """The item's tokens with the shared context's exceed the serving model's window."""

    kind = FailureKind.TOO_LONG


class ThinkingNotSupported(RefusedBeforeCall):
    """An item asks for thinking its model does not take; refused before any call."""

    def __init__(self, model: str, asked: str, allowed: str) -> None:
        super().__init__(f"{model} does not take thinking {asked!r}: it accepts {allowed}")
        self.model, self.asked, self.allowed = model, asked, allowed

    def __reduce__(self) -> tuple:
        return (type(self), (self.model, self.asked, self.allowed))


class InputNotSupported(RefusedBeforeCall):
    """An item's file is of a type its model does not take (an Office document on a
    model whose catalogue row lists none); refused before any call."""

    def __init__(self, item_id: str, model: str, suffix: str, accepted: list[str]) -> None:
        takes = ", ".join(accepted) if accepted else "no Office or OpenDocument files"
        super().__init__(f"item {item_id!r}: {model} does not take {suffix} files as input "
                         f"(it takes {takes}, besides PDF and text); route the item to a "
                         "model that does (e.g. gemini-4-hydrogen) or convert it to PDF")
        self.item_id, self.model, self.suffix, self.accepted = item_id, model, suffix, accepted

    def __reduce__(self) -> tuple:
        return (type(self), (self.item_id, self.model, self.suffix, self.accepted))


class RetiredModel(ConfigError):
    """A run names a model past its shutdown date and the user did not insist."""
