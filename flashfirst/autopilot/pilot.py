"""One run under the autopilot: the jobs it may route, the waves it sends, and what it
learns from each wave's results.

Each wave, per task group with items left: when a candidate cheaper than the current
choice is still open, the next ``wave`` items go to the cheapest open one (exploration);
else every item left goes to the choice (exploitation). Exploration is sent only while
its spend stays within ``max_exploration_share`` of the run's: the run's spend so far
plus what the items left would cost at least (each on its group's cheapest possible
route). When that bound holds it back, a wave's worth of items goes to the current
choice instead (the run spends, the bound widens, exploration resumes). Every failed
answer still climbs the policy's escalation ladder in the engine.

Exploration spend is everything paid for the items sent to measure a candidate (their
first call and the ladder's calls after it); their passing answers are kept."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from flashfirst.autopilot.agreement import agrees, merged, reference_id
from flashfirst.autopilot.candidates import Candidate, task_candidates
from flashfirst.autopilot.decision import Assessed, Decision, Status, assess, decide
from flashfirst.autopilot.evidence import EvidenceBook, Measured, price_signature
from flashfirst.autopilot.groups import Group, group_of, why_held
from flashfirst.autopilot.guesses import guessed_cost, static_candidate
from flashfirst.errors import ConfigError
from flashfirst.failures import FailureKind
from flashfirst.gemini.catalogue import Catalogue
from flashfirst.gemini.thinking import effort_rank
from flashfirst.inference.job import InferenceJob
from flashfirst.items import ItemResult, Route
from flashfirst.planning.router import RoutingPolicy
from flashfirst.planning.thinking_figures import ThinkingFigures
from flashfirst.pricing.prices import PriceTable
from flashfirst.settings import ModelCatalogue


class Autopilot:
    def __init__(self, jobs: list[InferenceJob], policy: RoutingPolicy, models: ModelCatalogue,
                 catalogue: Catalogue, prices: PriceTable, figures: ThinkingFigures,
                 book: EvidenceBook, day: date, floor: float | None = None,
                 paid_tier: bool = True) -> None:
        self.ap, self.routing, self.models = policy.autopilot, policy, models
        self.catalogue, self.prices, self.figures, self.day = catalogue, prices, figures, day
        self.book, self.delta = book, EvidenceBook()
        self.held: list[InferenceJob] = []
        self.held_why: dict[str, str] = {}
        grouped: dict[str, list[InferenceJob]] = defaultdict(list)
        for job in jobs:
            if (why := why_held(job, self.ap)) is not None:
                self.held.append(job)
                self.held_why[job.item.id] = why
            else:
                grouped[group_of(job)].append(self._with_task_check(job))
        self.groups: dict[str, Group] = {}
        for key, members in grouped.items():
            task = members[0].item.task
            candidates = task_candidates(task, self.ap, models, catalogue, prices, day,
                                         paid_tier)
            static = static_candidate(members[0], candidates, policy, catalogue)
            group = Group(key, floor if floor is not None else self.ap.floor_for(task),
                          candidates, static, members)
            if self.ap.agreement_for(task):
                group.reference = candidates[-1]
            self.groups[key] = group
            group.note_reopened(book, prices, day)
        self.assignments: dict[str, tuple[str, Candidate, bool]] = {}  # id → group, cand, explore
        self.spent = Decimal(0)
        self.explored = Decimal(0)
        self._committed = self._sending = Decimal(0)
        self.results: dict[str, ItemResult] = {}
        self.references: dict[str, InferenceJob] = {}  # reference id → the item's job
        self._structured: set[str] = set()  # items compared as normalized JSON
        self.originals: dict[str, InferenceJob] = {}  # as planned, before the autopilot
        self._requeued: set[str] = set()

    # -- planning -----------------------------------------------------------------------

    def next_wave(self) -> list[InferenceJob]:
        wave, self.held = self.held, []
        self._committed = Decimal(0)  # exploration this wave already counts on
        self._sending = Decimal(0)  # what this wave's other items will cost, about
        decisions = {k: self.decision(g) for k, g in self.groups.items() if g.waiting}
        # Exploitation first: what it sends this wave is spend the share is a part of.
        for key in sorted(decisions, key=lambda k: bool(decisions[k].to_explore)):
            group, decision = self.groups[key], decisions[key]
            group.note_drift(decision)
            cost = {a.candidate.key: Decimal(str(a.cost_per_call)) for a in decision.assessed}
            explorable = [c for c in decision.to_explore if c.key in group.explored_keys
                          or len(group.explored_keys) < self.ap.max_explored]
            if explorable:
                cand = explorable[0]
                take = group.waiting[:self.ap.wave]
                group.waiting = group.waiting[len(take):]
                k = len(take)  # a smaller step when the whole one does not fit the share
                while k and not self._affordable(group, decision, cand, k, len(take)):
                    k //= 2
                if k:
                    group.explored_keys.add(cand.key)
                    group.waiting = take[k:] + group.waiting
                    wave += [self._send(group, j, cand, True, "exploring") for j in take[:k]]
                    wave += [self._reference(group, j) for j in take[:k]
                             if self._judged_by_agreement(group, j)]
                    continue
                group.explore_blocked += 1
                self._sending += len(take) * cost[decision.choice.key]
                wave += [self._send(group, j, decision.choice, False, "exploration held "
                                    "back by autopilot.max_exploration_share") for j in take]
                continue
            # In steps, so a choice whose pass rate drifts below the floor is re-opened
            # within the run.
            take = group.waiting[:4 * self.ap.wave]
            group.waiting = group.waiting[len(take):]
            self._sending += len(take) * cost[decision.choice.key]
            why = ("chosen" if decision.floor_met else "not enough evidence yet: the policy's "
                   "route" if not decision.enough_evidence else "floor not met: the strongest")
            wave += [self._send(group, j, decision.choice, False, why) for j in take]
        return wave

    def decision(self, group: Group) -> Decision:
        return decide(self.assess(group), group.floor, self.ap.confidence,
                      self.ap.max_samples, group.static)

    def assess(self, group: Group) -> list[Assessed]:
        out = []
        for cand in group.candidates:
            if cand.key in group.dropped and cand is not group.candidates[-1]:
                continue
            measured = self.book.get(group.key, cand.key)
            cost = measured.cost_per_call(cand.model, self.prices, self.day)
            known = cost is not None
            if cost is None:
                cost = self.guessed_cost(group, cand)
            a = assess(cand, measured, float(cost), known, group.floor, self.ap.confidence,
                       self.ap.max_samples)
            if group.reference is not None and cand.key == group.reference.key:
                a.status = Status.REFERENCE  # agrees with itself: never measured
            out.append(a)
        return out

    def _affordable(self, group: Group, decision: Decision, cand: Candidate, k: int,
                    taken: int) -> bool:
        share = Decimal(str(self.ap.max_exploration_share))
        if share <= 0:
            return False
        costs = {a.candidate.key: Decimal(str(a.cost_per_call)) for a in decision.assessed}
        measured = self.book.get(group.key, cand.key)
        fail = Decimal(1) - (Decimal(measured.passes) / measured.n if measured.n
                             else Decimal("0.5"))
        step = k * (costs[cand.key] + fail * self._ladder_cost(decision, cand))
        if group.reference is not None:
            step += k * costs[group.reference.key]
        left = self._sending + sum((self._cheapest(g) * len(g.waiting)
                                    for g in self.groups.values()), Decimal(0)) + (
            self._cheapest(group) * (taken - k))
        ahead = self._committed + step
        if self.explored + ahead > share * (self.spent + ahead + left):
            return False
        self._committed = ahead
        return True

    def _ladder_cost(self, decision: Decision, cand: Candidate) -> Decimal:
        """What a failed answer on ``cand`` costs next, as the default ladder climbs: the
        same model at default thinking (when it asked less), then the run's model of the
        tier above at the same thinking (its dearest candidate when that one is not
        listed)."""
        cost = {a.candidate.key: Decimal(str(a.cost_per_call)) for a in decision.assessed}
        same = [a for a in decision.assessed if a.candidate.model == cand.model]
        think = next((cost[a.candidate.key] for a in same if a.candidate.thinking == "default"),
                     max(cost[a.candidate.key] for a in same))
        if (effort_rank(cand.thinking) or 0) >= (effort_rank("default") or 0):
            think = Decimal(0)
        up_tier = cand.tier.next_up()
        up_model = self.models.by_tier(up_tier).id if up_tier is not None else None
        above = [a for a in decision.assessed if a.candidate.model == up_model]
        up = next((cost[a.candidate.key] for a in above if a.candidate.thinking == cand.thinking),
                  max((cost[a.candidate.key] for a in above), default=Decimal(0)))
        return think + up

    def _cheapest(self, group: Group) -> Decimal:
        possible = [a.cost_per_call for a in self.assess(group)
                    if a.status in (Status.OPEN, Status.MEETS)] or [
            a.cost_per_call for a in self.assess(group)]
        return Decimal(str(min(possible)))

    def _send(self, group: Group, job: InferenceJob, cand: Candidate, explore: bool,
              why: str) -> InferenceJob:
        self.assignments[job.item.id] = (group.key, cand, explore)
        self.originals.setdefault(job.item.id, job)
        item = job.item.model_copy(update={"thinking": cand.thinking})
        route = Route(model=cand.model, tier=cand.tier, service_tier=job.route.service_tier,
                      reason=f"autopilot: {cand.key} ({why}); policy route was "
                      f"{job.route.model}")
        return job.model_copy(update={"item": item, "route": route, "calibrate": False})

    def left(self) -> list[InferenceJob]:
        """Jobs not sent yet (a stopped run marks them)."""
        return [*self.held, *(j for g in self.groups.values() for j in g.waiting)]

    # -- learning -----------------------------------------------------------------------

    def observe(self, results: list[ItemResult]) -> list[ItemResult]:
        """Learn from a wave's results; returns them as the run keeps them (a reference
        call merged into its item's result)."""
        refs = {r.id: r for r in results if r.id in self.references}
        results = [r for r in results if r.id not in self.references]
        judged: dict[str, bool | None] = {}
        for i, r in enumerate(results):
            ref = refs.pop(reference_id(r.id), None)
            if ref is not None:
                self.references.pop(ref.id)
                judged[r.id] = agrees(r, ref, r.id in self._structured)
                results[i] = merged(r, ref, judged[r.id])
        results = [r for r in results if not self._refused(r)]
        for r in results:
            self.results[r.id] = r
            cost = Decimal(str(r.cost_usd))
            self.spent += cost
            if r.id not in self.assignments:
                continue
            key, cand, explore = self.assignments[r.id]
            if explore:
                self.explored += cost
                self.groups[key].explored_usd += cost
            first = r.attempts[0] if r.attempts else None
            if r.reused or first is None or first.model != cand.model:
                continue  # no new call on the candidate: nothing measured
            passed = judged.get(r.id, first.ok)
            if passed is None:
                continue  # the reference did not answer: nothing to judge by
            try:
                row = price_signature(self.prices.for_model(cand.model,
                                                            first.called_at or self.day))
            except ConfigError:  # no row that day: the cost is provisional, the pass counts
                row = None
            for book in (self.book, self.delta):
                m = book.groups.setdefault(key, {}).setdefault(cand.key, Measured())
                m.add(passed, first.usage, self.ap.window)
                m.price_row, m.last_seen = row or m.price_row, self.day
        for key, group in self.groups.items():
            seen = sorted({c.model for c in group.candidates})
            self.delta.models_seen[key] = self.book.models_seen[key] = seen
        return results

    # -- helpers ------------------------------------------------------------------------

    def guessed_cost(self, group: Group, cand: Candidate) -> Decimal:
        return guessed_cost(group, cand, self.book, self.catalogue, self.figures, self.prices,
                            self.day)

    def _refused(self, r: ItemResult) -> bool:
        """A candidate the API refuses (unknown model, per-day quota used up) is dropped for
        the run and the item goes back in line, once: the candidate, not the item, is bad."""
        key, cand, _ = self.assignments.get(r.id, ("", None, False))
        group = self.groups.get(key)
        if (cand is None or group is None or r.attempts or r.failure is None
                or r.failure.kind not in (FailureKind.REJECTED, FailureKind.DAILY_QUOTA)
                or (group.static is not None and cand.key == group.static.key)
                or r.id in self._requeued):
            return False
        group.dropped.setdefault(cand.key, r.failure.message[:200])
        self._requeued.add(r.id)
        group.waiting.insert(0, self.originals[r.id])
        return True

    def _judged_by_agreement(self, group: Group, job: InferenceJob) -> bool:
        return (group.reference is not None and job.item.check is None
                and self.assignments[job.item.id][1].key != group.reference.key)

    def _reference(self, group: Group, job: InferenceJob) -> InferenceJob:
        """The same item on the reference route, under its own id (paid, exploration)."""
        ref = group.reference
        assert ref is not None
        if job.item.response_schema is not None:
            self._structured.add(job.item.id)
        item = job.item.model_copy(update={"id": reference_id(job.item.id),
                                           "thinking": ref.thinking})
        route = Route(model=ref.model, tier=ref.tier, service_tier=job.route.service_tier,
                      reason=f"autopilot: reference {ref.key} for agreement")
        sent_job = job.model_copy(update={"item": item, "route": route, "calibrate": False})
        self.references[item.id] = sent_job
        return sent_job

    def _with_task_check(self, job: InferenceJob) -> InferenceJob:
        check = self.ap.check_for(job.item.task)
        if job.item.check is None and check is not None:
            return job.model_copy(update={"item": job.item.model_copy(update={"check": check})})
        return job

    def remember_choices(self) -> None:
        for key, group in self.groups.items():
            decision = self.decision(group)
            if decision.floor_met:
                self.delta.chosen[key] = self.book.chosen[key] = decision.choice.key
