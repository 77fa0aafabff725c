"""Batch on the Gemini Enterprise Agent Platform (formerly Vertex AI): the same requests as
the Developer API's batch, but through Cloud Storage.

The platform takes no inline requests and no Files API upload: a job reads one JSONL file
of ``{"request": <GenerateContentRequest>}`` lines from Cloud Storage and writes
``predictions.jsonl`` into a folder under its output prefix, a row per line whose
``status`` is empty on success and carries the error otherwise (Google's page below). So
each part's lines go to the run's bucket (under the storage root) at a path fixed by the
requests themselves, which a re-attaching run rebuilds byte for byte; rows are matched
back by the ``key`` each line carries and, should a row come back without it, by the same
key in the request's labels (which the row's ``request`` echoes).

Google's pages, as read on 2026-12-02:

- https://docs.cloud.google.com/gemini-enterprise-agent-platform/models/capabilities/
  batch-prediction-from-cloud-storage — "accepts one JSON Lines (JSONL) file stored in
  Cloud Storage as input data. Each line in the batch input data is a request to the
  model"; the AI Platform Service Agent must be able to read it.
- https://docs.cloud.google.com/gemini-enterprise-agent-platform/models/capabilities/
  batch-inference — 50% of the standard price; implicit-cache hits keep their own 90%
  discount instead (the two do not stack); the global endpoint serves batch for base
  models. Its "Quotas and limits" section is folded in every stored copy; the figures
  used here are the ones reported for Gemini batch on the platform: at most 200,000
  requests and 1 GB of input per job (docs.gmicloud.ai gemini-batch-inference, which
  submits to the platform; the platform's Gemini-embedding batch, "built on Gemini Batch
  Inference", states 1 GB per input file:
  …/models/embeddings/batch-prediction-genai-embeddings). Above either, the requests are
  split into several jobs.
- Explicit context caches do not combine with platform batch (a 404:
  GoogleCloudPlatform/generative-ai #2122): the shared context travels in each request.
"""

from __future__ import annotations

import json
import logging

from google import genai
from google.genai import _common as sdk_common
from google.genai import models as sdk_models
from google.genai import types

from flashfirst.errors import ConfigError
from flashfirst.inference.batch_input import BatchInput, KeyedRequest
from flashfirst.inference.batch_ledger import SubmittedJob
from flashfirst.inference.job_states import HAS_OUTPUT, short_name
from flashfirst.inference.request import RUN_LABEL, billing_labels
from flashfirst.settings import Settings
from flashfirst.storage import Storage, is_gcs, join

log = logging.getLogger(__name__)

MAX_REQUESTS_PER_JOB = 200_000
MAX_INPUT_BYTES = 1_000_000_000
KEY_LABEL = "flashfirst-request"  # a label value holds 63 characters of the 64-hex key
# States whose rows are read: a partly successful job's failed rows fail only their items.

Answers = dict[str, dict]
# The most a run label adds to a line: ',"flashfirst-run":"<63 characters>"'.
_RUN_LABEL_BYTES = len(RUN_LABEL) + 63 + 6


class PlatformBatches:
    """What the batch runner asks of a backend's batch service, for the Agent Platform:
    split the requests into parts, create a part's job, read a finished job's answers."""

    def __init__(self, client: genai.Client, settings: Settings, run_id: str | None,
                 storage: Storage | None = None) -> None:
        self.client, self.settings, self.run_id = client, settings, run_id
        self.storage = storage or Storage.for_settings(settings)
        self.max_requests = MAX_REQUESTS_PER_JOB
        self.max_bytes = min(MAX_INPUT_BYTES, settings.inference.batch_file_max_bytes)

    # -- submit ---------------------------------------------------------------------------

    def split(self, requests: list[KeyedRequest]) -> list[BatchInput]:
        """JSONL parts under the platform's per-job limits. Which keys go in which part
        depends on the requests only (sorted by key, each line sized as if its run label
        were the longest allowed), so a re-attaching run, another run id, rebuilds them."""
        parts: list[BatchInput] = []
        keys: list[str] = []
        data = bytearray()
        size = 0
        for keyed in sorted(requests, key=lambda r: r.key):
            line = _encoded(self.line(keyed))
            sized = len(_encoded(self.line(keyed, run_label=False))) + _RUN_LABEL_BYTES
            if sized > self.max_bytes:
                raise ConfigError(f"request {keyed.key[:12]}… is {sized} bytes, above a "
                                  f"batch job's input limit ({self.max_bytes} bytes)")
            if keys and (len(keys) >= self.max_requests or size + sized > self.max_bytes):
                parts.append(BatchInput(part=len(parts), keys=keys, jsonl=bytes(data)))
                keys, data, size = [], bytearray(), 0
            keys.append(keyed.key)
            data += line
            size += sized
        if keys:
            parts.append(BatchInput(part=len(parts), keys=keys, jsonl=bytes(data)))
        return parts

    def line(self, keyed: KeyedRequest, *, run_label: bool = True) -> dict:
        """One JSONL line: the request as the SDK puts a generateContent on the platform's
        wire (``systemInstruction``, ``labels`` and ``tools`` at request level), labelled
        with the run (billing) and its key (matching, should a row lose its ``key``)."""
        inlined = keyed.request
        config = (inlined.config or types.GenerateContentConfig()).model_copy()
        run = billing_labels(self.run_id) if self.run_id and run_label else {}
        config.labels = {**(config.labels or {}), **run, KEY_LABEL: keyed.key[:63]}
        body = sdk_models._GenerateContentParameters_to_vertex(
            self.client._api_client, {"model": inlined.model, "contents": inlined.contents,
                                      "config": config})
        body.pop("_url", None)
        request = sdk_common.encode_unserializable_types(sdk_common.convert_to_dict(body))
        return {"key": keyed.key, "request": request}

    def create(self, model: str, key: str, part: BatchInput) -> SubmittedJob:
        folder = self.folder(key, part.part)
        source = join(folder, "input.jsonl")
        self.storage.write_bytes(source, part.jsonl or b"", content_type="application/jsonl")
        labels = billing_labels(self.run_id) if self.run_id else {}
        config = types.CreateBatchJobConfig(
            display_name=f"flashfirst-{key[:12]}-{part.part}", dest=join(folder, "output"),
            # The SDK's config has no labels field for batch jobs; the REST body does.
            http_options=types.HttpOptions(extra_body={"labels": labels}) if labels else None)
        batch = self.client.batches.create(model=model, src=source, config=config)
        log.info("created batch prediction job %s (%d requests, %s)", batch.name,
                 len(part.keys), source)
        return SubmittedJob(name=batch.name or "", part=part.part, input_file=source)

    def folder(self, key: str, part: int) -> str:
        root = self.settings.storage_root
        if not is_gcs(root):
            raise ConfigError(
                "batch on the Agent Platform reads its requests from Cloud Storage and writes "
                f"its answers there; the storage root {root!r} is a local folder: set "
                "FLASHFIRST_STORAGE_ROOT=gs://bucket/prefix (a bucket in the job's location "
                "the platform's service agent can read and write), or run online")
        return join(root, "batch-io", key[:16], f"part-{part}")

    # -- collect --------------------------------------------------------------------------

    def collect(self, batch: types.BatchJob, keys: list[str]
                ) -> tuple[Answers, tuple[str, str] | None]:
        """Rows by request key (``{"response": …}`` or ``{"error": …}``), or the state and
        reason the job gave none (or fewer than its completion stats claim)."""
        if batch.state not in HAS_OUTPUT:
            reason = batch.error.message if batch.error and batch.error.message else None
            return {}, (short_name(batch.state), reason or "the API gave no reason")
        folder = batch.output_info.gcs_output_directory if batch.output_info else None
        if not folder:
            return {}, ("INCOMPLETE", "the job names no output folder")
        rows = [json.loads(line) for uri in self._prediction_files(folder)
                for line in self.storage.read_text(uri).splitlines() if line.strip()]
        full = {k[:63]: k for k in keys}
        answers: Answers = {}
        for row in rows:
            key = _key_of(row)
            if key is not None:
                answers[full.get(key, key)] = _answer(row)
        ok = sum(1 for a in answers.values() if "response" in a)
        stats = batch.completion_stats
        claimed_ok = int(stats.successful_count or 0) if stats else ok
        claimed_failed = int(stats.failed_count or 0) if stats else len(rows) - ok
        if (claimed_ok, claimed_failed) != (ok, len(rows) - ok):
            return answers, ("INCOMPLETE", f"completionStats report {claimed_ok} succeeded and "
                             f"{claimed_failed} failed, but {ok} answers and "
                             f"{len(rows) - ok} errors came back in {folder}")
        return answers, None

    def _prediction_files(self, folder: str) -> list[str]:
        files = sorted(u for u in self.storage.list(folder)
                       if u.rsplit("/", 1)[-1].startswith("predictions")
                       and u.endswith(".jsonl"))
        if not files:
            raise ConfigError(f"no predictions*.jsonl in the job's output folder {folder}")
        return files


def progress(batch: types.BatchJob) -> tuple[int, int]:
    """Requests done and in the job so far, from its completion stats."""
    stats = batch.completion_stats
    if stats is None:
        return 0, 0
    done = int(stats.successful_count or 0) + int(stats.failed_count or 0)
    return done, done + int(stats.incomplete_count or 0)


def _encoded(line: dict) -> bytes:
    return json.dumps(line, separators=(",", ":")).encode() + b"\n"


def _key_of(row: dict) -> str | None:
    if isinstance(row.get("key"), str):
        return row["key"]
    labels = (row.get("request") or {}).get("labels") or {}
    return labels.get(KEY_LABEL)  # the key's first 63 characters


def _answer(row: dict) -> dict:
    status = row.get("status") or ""
    if not status and row.get("response"):
        return {"response": row["response"]}
    return {"error": _error_of(status or "the row has neither a response nor a status")}


def _error_of(status: str) -> dict:
    """The platform's status text, ``"<Reason>: {"error": {…}}"``, as a google.rpc error."""
    _, brace, rest = status.partition("{")
    if brace:
        try:
            error = json.loads(brace + rest).get("error")
            if isinstance(error, dict):
                return error
        except json.JSONDecodeError:
            pass
    return {"message": status}

