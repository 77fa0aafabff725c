"""An item split to fit its model's window: one call per segment, then one answer.

Each segment goes through the engine as an item of its own (rate limits, retries,
validation, escalation, the answer store), told which part of the recording it is.
Transcripts are joined in order with their timestamps moved to the recording's clock and
the overlap said once; other tasks get one more call that combines the segments'
answers, billed as part of the item.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from typing import Protocol

from flashfirst.failures import FailureKind
from flashfirst.gemini.token_rules import text_tokens
from flashfirst.inference.job import InferenceJob
from flashfirst.inputs.prompts import prompt_for
from flashfirst.items import Attempt, ItemResult, ServiceTier, TaskKind, WorkItem
from flashfirst.media.split import SegmentParts
from flashfirst.probe import MediaKind

# A timestamp opening a line: [1:02:03], (02:03), 01:02:03.5 - ...
_STAMP = re.compile(r"^(?P<lead>\s*[\[(]?)(?P<stamp>(?:\d{1,2}:)?\d{1,2}:\d{2}(?:\.\d+)?)"
                    r"(?P<rest>.*)$")


class Runs(Protocol):
    async def run(self, job: InferenceJob) -> ItemResult: ...


def hms(seconds: float) -> str:
    whole = int(seconds)
    frac = seconds - whole
    text = f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    return text + f"{frac:.3f}".lstrip("0").rstrip("0").rstrip(".") if frac >= 0.001 else text


def segment_job(job: InferenceJob, seg: SegmentParts, count: int) -> InferenceJob:
    """A segment as an item of its own, told where it sits in the recording."""
    prompt = (f"{prompt_for(job.item)}\n(This is part {seg.index} of {count} of one "
              f"recording, from {hms(seg.start_s)} to {hms(seg.end_s)}; give any timestamps "
              "from the start of this part.)")
    item = job.item.model_copy(update={"id": f"{job.item.id}#segment-{seg.index:02d}",
                                       "prompt": prompt, "media_policy": None})
    return job.model_copy(update={
        "item": item, "parts": seg.parts, "identity": seg.identity, "segments": [],
        "est_prompt_tokens": seg.tokens + text_tokens(prompt), "calibrate": False,
        "media_resolution": seg.media_resolution})


async def run_split(engine: Runs, job: InferenceJob) -> ItemResult:
    """The item's answer from its segments; its attempts are every call it paid for."""
    segs = job.segments
    n = len(segs)
    done = await asyncio.gather(*(engine.run(segment_job(job, s, n)) for s in segs))
    result = ItemResult(id=job.item.id, task=job.item.task, route=job.route,
                        escalated=any(r.escalated for r in done))
    for seg, part in zip(segs, done, strict=True):
        result.attempts += _labelled(part, f"segment {seg.index}/{n}")
    result.reused = all(r.reused for r in done)
    failed = [(s, r) for s, r in zip(segs, done, strict=True) if not r.ok]
    if failed:
        seg, part = failed[0]
        assert part.failure is not None
        return result.fail(part.failure.kind, f"segment {seg.index} of {n} "
                           f"({hms(seg.start_s)}-{hms(seg.end_s)}): {part.failure.message}")
    outputs = [r.output for r in done]
    if job.item.task is TaskKind.TRANSCRIBE and all(isinstance(o, str) for o in outputs):
        result.output = join_transcripts(segs, outputs)
        return result
    combined = await engine.run(combine_job(job, outputs))
    result.attempts += _labelled(combined, "combine")
    result.reused = result.reused and combined.reused
    result.escalated = result.escalated or combined.escalated
    if not combined.ok:
        assert combined.failure is not None
        return result.fail(combined.failure.kind, f"combining the {n} segments' answers: "
                           f"{combined.failure.message}")
    result.output = combined.output
    return result


def calls_of(job: InferenceJob, answer_tokens: int) -> list[InferenceJob]:
    """The calls a job will make, for the estimate: a split item's segments and its
    combining call (over ``answer_tokens`` a segment, assumed); else the job itself."""
    if not job.segments:
        return [job]
    n = len(job.segments)
    calls = [segment_job(job, s, n) for s in job.segments]
    if job.item.task is not TaskKind.TRANSCRIBE:
        calls.append(combine_job(job, [" ".join(["word"] * answer_tokens)] * n))
    return calls


def split_jobs_online(jobs: list[InferenceJob], *, batch: bool
                      ) -> tuple[list[InferenceJob], list[ItemResult]]:
    """A split item needs its segments' answers before its combining call, which one
    batch job cannot give: ``mode=batch`` refuses it before any call; ``mode=auto`` sends
    it at the standard tier instead of Batch."""
    kept, refused = [], []
    for job in jobs:
        if not job.segments:
            kept.append(job)
        elif batch:
            refused.append(ItemResult(id=job.item.id, task=job.item.task, route=job.route).fail(
                FailureKind.TOO_LONG, f"{job.item.id}: split into {len(job.segments)} segments "
                "to fit its window (media_policy fit 'split'), which batch mode does not "
                "send; refused before any call. Run it with mode standard or flex, or use "
                "fit 'fps'."))
        elif job.route.service_tier is ServiceTier.BATCH:
            kept.append(job.model_copy(update={"route": job.route.model_copy(
                update={"service_tier": ServiceTier.STANDARD})}))
        else:
            kept.append(job)
    return kept, refused


def _labelled(result: ItemResult, part: str) -> list[Attempt]:
    """The calls this run paid for (a reused answer was paid for by an earlier run)."""
    if result.reused:
        return []
    return [a.model_copy(update={"part": part}) for a in result.attempts]


def combine_job(job: InferenceJob, outputs: list[object]) -> InferenceJob:
    """One call over the segments' answers: the item's request, for the whole recording."""
    segs, n = job.segments, len(job.segments)
    text = "\n\n".join(
        f"Part {s.index} of {n} ({hms(s.start_s)} to {hms(s.end_s)}):\n"
        f"{o if isinstance(o, str) else json.dumps(o, ensure_ascii=False)}"
        for s, o in zip(segs, outputs, strict=True))
    prompt = (f"The text above is the answers, part by part, for one recording cut into {n} "
              "consecutive overlapping parts. Combine them into one answer for the whole "
              f"recording, to this request: {prompt_for(job.item)}")
    item = WorkItem(id=f"{job.item.id}#combine", task=job.item.task, kind=MediaKind.TEXT,
                    text=text, prompt=prompt, response_schema=job.item.response_schema,
                    check=job.item.check, model=job.item.model, thinking=job.item.thinking,
                    max_output_tokens=job.item.max_output_tokens)
    identity = hashlib.sha256(f"{job.identity}\n{text}".encode()).hexdigest()
    return job.model_copy(update={
        "item": item, "parts": [], "identity": identity, "segments": [], "calibrate": False,
        "media_resolution": None, "est_prompt_tokens": text_tokens(text + prompt)})


def join_transcripts(segs: list[SegmentParts], outputs: list[str]) -> str:
    """Segments' transcripts in order, timestamps on the recording's clock; a line a
    segment says in its overlap (before the part it owns) was said by the one before."""
    lines: list[str] = []
    for seg, text in zip(segs, outputs, strict=True):
        keep = True
        for line in text.splitlines():
            m = _STAMP.match(line)
            if m is not None:
                at = seg.start_s + _seconds(m["stamp"])
                keep = seg.index == 1 or at >= seg.owns_from_s
                line = f"{m['lead']}{hms(at)}{m['rest']}"
            if keep and line.strip():
                lines.append(line)
    return "\n".join(lines)


def _seconds(stamp: str) -> float:
    total = 0.0
    for piece in stamp.split(":"):
        total = total * 60 + float(piece)
    return total
