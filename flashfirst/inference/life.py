"""One item's life, decided once for every transport: the request it needs first (its
route, at its task's thinking and output cap), what to ask next when an answer fails (a
larger output cap for an answer starved by thinking, then the policy's ladder: more
thinking, a tier up), when it is done, and whether it is also sent at the model's
default thinking for the thinking lever's sample (``calibration``).

Pure: no call is made here. The online engine (``engine``) sends each ask as one call,
the batch runner (``batch``) as a line of the next round's batch job; both hand back
what came of it, so the two walk the same ladder by construction."""

from __future__ import annotations

from dataclasses import dataclass, replace

from flashfirst.failures import FailureKind
from flashfirst.gemini.catalogue import Catalogue
from flashfirst.gemini.thinking import Effort
from flashfirst.inference.job import InferenceJob
from flashfirst.inference.validation import Verdict
from flashfirst.items import Attempt, ItemResult, Route, Step, ThinkingSent
from flashfirst.planning.router import RoutingPolicy, next_step
from flashfirst.settings import ModelCatalogue


@dataclass(frozen=True)
class Ask:
    """One request an item's life needs: the model (its route), the thinking asked, the
    output cap, and the step that made it; ``index``: the ladder position after it."""

    route: Route
    thinking: str | None
    cap: int | None
    step: Step
    index: int = 0


class ItemLife:
    """An item's result so far and the request it needs next (None: done)."""

    def __init__(self, job: InferenceJob, policy: RoutingPolicy, catalogue: Catalogue,
                 models: ModelCatalogue) -> None:
        self.job, self._policy, self._catalogue, self._models = job, policy, catalogue, models
        self.result = ItemResult(id=job.item.id, task=job.item.task, route=job.route)
        self.ask: Ask | None = Ask(route=job.route, thinking=policy.thinking_for(job.item),
                                   cap=policy.max_output_for(job.item), step="route")

    def answered(self, attempt: Attempt, verdict: Verdict) -> Ask | None:
        """The answer to the current ask, recorded; the next ask, or None when done (the
        output kept, or the last failure the item's)."""
        ask = self.ask
        assert ask is not None, "an answer to an item whose life is over"
        attempt.step = ask.step
        self.result.attempts.append(attempt)
        if verdict.ok:
            self.result.output = verdict.output
            self.result.succeed()
            self.ask = None
            return None
        self.ask = self._after(ask, verdict)
        if self.ask is None:
            failure = verdict.failure(ask.route.model)
            self.result.fail(failure.kind, failure.message)
        else:
            self.result.escalated = True
        return self.ask

    def failed(self, kind: FailureKind, message: str) -> ItemResult:
        """The current ask got no answer (refused, not sent, gave up): the item ends here."""
        self.ask = None
        return self.result.fail(kind, message)

    def calibration(self, first: ThinkingSent) -> Ask | None:
        """The route's request again at the model's default thinking, when the item is in
        the lever's sample and its first request (``first``) was sent below it."""
        if not self.job.calibrate or first.at_default:
            return None
        return Ask(route=self.job.route, thinking=Effort.DEFAULT,
                   cap=self._policy.max_output_for(self.job.item), step="calibration")

    def calibrated(self, attempt: Attempt) -> None:
        """What the calibration call spent; its answer is not used."""
        attempt.step = "calibration"
        self.result.calibration = attempt

    def _after(self, ask: Ask, verdict: Verdict) -> Ask | None:
        raised = any(a.step == "cap" for a in self.result.attempts)
        larger = larger_cap(self._catalogue, ask.route, ask.cap) if (
            verdict.starved and not raised) else None
        if larger is not None:  # the first rung: room to answer, not a dearer model
            return replace(ask, cap=larger, step="cap", index=ask.index + 1)
        nxt = next_step(self._policy, self.job.item, ask.index, ask.route, ask.thinking,
                        self._models, verdict.error or "invalid answer")
        if nxt is None:
            return None
        return Ask(route=nxt.route, thinking=nxt.thinking, cap=ask.cap, step=nxt.step,
                   index=nxt.index)


def larger_cap(catalogue: Catalogue, route: Route, cap: int | None) -> int | None:
    """A starved answer's cap grown fourfold (at least 4,096 more), within what the
    serving model may return; None when it cannot grow. Only tokens used are billed, so
    the larger cap costs the answer, not the cap."""
    serving = catalogue.find(catalogue.served_id(route.model))
    limit = serving.output_token_limit if serving is not None else None
    if cap is None or limit is None or cap >= limit:
        return None
    return min(limit, max(4 * cap, cap + 4096))
