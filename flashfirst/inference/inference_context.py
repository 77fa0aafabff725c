"""What a run's inference needs, in one object: the online engine and the batch runner
take it instead of a dozen arguments each, so a caller builds it once per chunk."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from google import genai

from flashfirst.gemini.catalogue import Catalogue, load_catalogue
from flashfirst.inference.answers import AnswerStore
from flashfirst.inference.budget import Budget
from flashfirst.inference.ratelimit import PROCESS, Limiters
from flashfirst.planning.router import RoutingPolicy
from flashfirst.pricing.prices import PriceTable
from flashfirst.run.stopping import STOP, StopRequest
from flashfirst.settings import Settings

# Called before each request with (model, estimated tokens): a limit shared beyond this
# process (Prefect global concurrency limits), see tasks/inference.py.
Gate = Callable[[str, int], Awaitable[None]]


@dataclass
class InferenceContext:
    """The client and the run's rules (prices, policy, catalogue), and what its calls
    share: the answer store (nothing paid twice), the budget, the rate limiters, the stop."""

    client: genai.Client
    settings: Settings
    prices: PriceTable
    policy: RoutingPolicy
    catalogue: Catalogue = None  # type: ignore[assignment]  # None: the settings' one
    answers: AnswerStore | None = None
    budget: Budget = field(default_factory=lambda: Budget(None))
    limiters: Limiters = PROCESS  # tests pass their own: process-wide state leaks
    stop: StopRequest = STOP  # read before every dispatch: after it, nothing new is sent
    deadline_at: float | None = None  # time.time() by which the run should be done
    gate: Gate | None = None
    labels: dict[str, str] | None = None  # billing labels on every call (Agent Platform)
    run_id: str | None = None  # in each batch job's webhook metadata: which run to finish
    seed: int = 0  # the retry jitter's

    def __post_init__(self) -> None:
        if self.catalogue is None:
            self.catalogue = load_catalogue(self.settings.model_catalogue_path)

