"""The emulator serves the Gemini Enterprise Agent Platform's surface (formerly Vertex AI)
beside the Developer API's: the unmodified SDK with ``vertexai=True`` generates, streams,
counts, caches and runs batch jobs whose input and output live in Cloud Storage
(fake-gcs-server, through the real google-cloud-storage protocol)."""

from __future__ import annotations

import json

import httpx2
import pytest
from fixtures.emulator import client_for
from google import genai
from google.cloud import storage
from google.genai import errors, types
from google.oauth2.credentials import Credentials

from flashfirst.emulator import EmbeddedEmulator

MODEL = "gemini-2.5-flash-lite"  # explicit caches from 2,048 tokens
HANDBOOK = "Refunds are granted within thirty days of purchase for unused items. " * 300


def platform_client(base_url: str, project: str = "acme-ml",
                    location: str = "us-central1") -> genai.Client:
    return genai.Client(vertexai=True, project=project, location=location,
                        credentials=Credentials(token="any-token"),
                        http_options=types.HttpOptions(base_url=base_url))


def test_generate_stream_and_count_answer_on_the_platform_paths(emulator: EmbeddedEmulator):
    client = platform_client(emulator.base_url)
    answer = client.models.generate_content(
        model=MODEL, contents="Summarize the refund policy.",
        config=types.GenerateContentConfig(system_instruction="Be brief.",
                                           labels={"flashfirst-run": "r1"}))
    counted = client.models.count_tokens(
        model=MODEL, contents="Summarize the refund policy.",
        config=types.CountTokensConfig(system_instruction="Be brief."))
    chunks = list(client.models.generate_content_stream(
        model=MODEL, contents="Summarize the refund policy."))

    assert answer.text and answer.usage_metadata.traffic_type == types.TrafficType.ON_DEMAND
    assert counted.total_tokens == answer.usage_metadata.prompt_token_count
    assert "".join(c.text or "" for c in chunks)
    assert chunks[-1].usage_metadata.candidates_token_count
    calls = emulator.stats.calls
    assert calls["generateContent"][MODEL] == 1 and calls["countTokens"][MODEL] == 1
    assert calls["streamGenerateContent"][MODEL] == 1


def test_labels_are_kept_in_the_log_and_refused_when_google_would(emulator: EmbeddedEmulator):
    client = platform_client(emulator.base_url)
    client.models.generate_content(model=MODEL, contents="hi", config=types.GenerateContentConfig(
        labels={"flashfirst-run": "20261202t101500z-nightly-1a2b"}))
    with pytest.raises(errors.ClientError) as refused:
        client.models.generate_content(model=MODEL, contents="hi",
                                       config=types.GenerateContentConfig(labels={"Run": "X"}))
    assert emulator.stats.request_log[0].labels == \
        {"flashfirst-run": "20261202t101500z-nightly-1a2b"}
    assert refused.value.code == 400 and "Invalid label 'Run'" in refused.value.message


def test_the_platforms_model_list_names_publisher_models(emulator: EmbeddedEmulator):
    client = platform_client(emulator.base_url)
    listed = [m.name for m in client.models.list()]
    one = client.models.get(model=MODEL)
    assert f"publishers/google/models/{MODEL}" in listed
    assert len(listed) == len(emulator.control.config.models)
    assert one.name == f"publishers/google/models/{MODEL}"


def test_flex_is_reported_as_the_platforms_traffic_type(emulator: EmbeddedEmulator):
    client = platform_client(emulator.base_url)
    answer = client.models.generate_content(
        model=MODEL, contents="hi", config=types.GenerateContentConfig(service_tier="flex"))
    assert answer.usage_metadata.traffic_type == types.TrafficType.ON_DEMAND_FLEX


def test_platform_paths_take_a_bearer_token_and_never_an_api_key(emulator: EmbeddedEmulator):
    path = (f"{emulator.base_url}/v1beta1/projects/p/locations/us-central1/publishers/google/"
            f"models/{MODEL}:generateContent")
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    bare = httpx2.post(path, json=body, timeout=10)
    keyed = httpx2.post(path, json=body, headers={"x-goog-api-key": "k"}, timeout=10)
    bearer = httpx2.post(path, json=body, headers={"authorization": "Bearer t"}, timeout=10)
    assert bare.status_code == keyed.status_code == 401
    assert bare.json()["error"]["status"] == "UNAUTHENTICATED"
    assert bearer.status_code == 200


def test_an_unknown_model_is_a_missing_publisher_model(emulator: EmbeddedEmulator):
    client = platform_client(emulator.base_url)
    with pytest.raises(errors.ClientError) as err:
        client.models.generate_content(model="gemini-0-nonesuch", contents="hi")
    assert err.value.code == 404
    assert ("Publisher Model `projects/acme-ml/locations/us-central1/publishers/google/models/"
            "gemini-0-nonesuch` was not found") in err.value.message


def test_a_platform_cache_serves_its_project_and_location_only(emulator: EmbeddedEmulator):
    client = platform_client(emulator.base_url)
    cache = client.caches.create(model=MODEL, config=types.CreateCachedContentConfig(
        contents=[HANDBOOK], ttl="600s", display_name="handbook"))
    answer = client.models.generate_content(
        model=MODEL, contents="May I return an opened item?",
        config=types.GenerateContentConfig(cached_content=cache.name))
    listed = [c.name for c in client.caches.list()]
    other_place = platform_client(emulator.base_url, location="europe-west4")
    elsewhere = list(other_place.caches.list())
    with client_for(emulator.base_url) as developer, pytest.raises(errors.ClientError):
        developer.caches.get(name=f"cachedContents/{cache.name.rsplit('/', 1)[-1]}")
    with pytest.raises(errors.ClientError) as wrong_place:
        other_place.models.generate_content(
            model=MODEL, contents="hi",
            config=types.GenerateContentConfig(cached_content=cache.name))
    longer = client.caches.update(name=cache.name,
                                  config=types.UpdateCachedContentConfig(ttl="7200s"))
    client.caches.delete(name=cache.name)

    assert cache.name.startswith("projects/acme-ml/locations/us-central1/cachedContents/")
    assert cache.model == f"projects/acme-ml/locations/us-central1/publishers/google/models/{MODEL}"
    assert answer.usage_metadata.cached_content_token_count \
        == cache.usage_metadata.total_token_count
    assert listed == [cache.name] and elsewhere == []
    assert wrong_place.value.code == 403
    assert longer.expire_time > cache.expire_time
    assert list(client.caches.list()) == []


def test_media_is_read_by_its_gs_uri_without_any_upload(
        emulator: EmbeddedEmulator, gcs_bucket: str, emulator_media: dict):
    storage.Client(project="test").bucket(gcs_bucket).blob("media/photo.png") \
        .upload_from_filename(str(emulator_media["image320x240"]))
    client = platform_client(emulator.base_url)
    photo = types.Part.from_uri(file_uri=f"gs://{gcs_bucket}/media/photo.png",
                                mime_type="image/png")
    answer = client.models.generate_content(model=MODEL, contents=[photo, "Describe it."])
    counted = client.models.count_tokens(model=MODEL, contents=[photo, "Describe it."])
    with pytest.raises(errors.ClientError) as missing:
        client.models.generate_content(model=MODEL, contents=[types.Part.from_uri(
            file_uri=f"gs://{gcs_bucket}/media/none.png", mime_type="image/png"), "hi"])

    image = {d.modality: d.token_count for d in answer.usage_metadata.prompt_tokens_details}
    assert image[types.MediaModality.IMAGE] == 258  # a small image on 2.5 (≤384 px)
    assert counted.total_tokens == answer.usage_metadata.prompt_token_count
    assert emulator.stats.uploads == 0
    assert missing.value.code == 400
    assert f"gs://{gcs_bucket}/media/none.png" in missing.value.message


def _lines(*rows: object) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


def _request(text: str) -> dict:
    return {"contents": [{"role": "user", "parts": [{"text": text}]}]}


def test_a_batch_job_reads_its_jsonl_from_storage_and_writes_predictions_per_line(
        emulator: EmbeddedEmulator, gcs_bucket: str):
    bucket = storage.Client(project="test").bucket(gcs_bucket)
    bucket.blob("in/requests.jsonl").upload_from_string(_lines(
        {"key": "a", "request": _request("Summarize item a.")},
        "{not json",
        {"key": "b", "request": {"contents": []}},
        {"key": "c", "request": _request("Summarize item c.")},
        {"key": "d"}))
    client = platform_client(emulator.base_url)

    job = client.batches.create(model=MODEL, src=f"gs://{gcs_bucket}/in/requests.jsonl",
                                config=types.CreateBatchJobConfig(dest=f"gs://{gcs_bucket}/out",
                                                                  display_name="nightly"))
    pending = client.batches.get(name=job.name)
    emulator.control.advance_clock(60)
    done = client.batches.get(name=job.name)
    folder = done.output_info.gcs_output_directory
    rows = [json.loads(line) for line in bucket.blob(
        folder.removeprefix(f"gs://{gcs_bucket}/") + "/predictions.jsonl"
    ).download_as_text().splitlines()]

    assert job.name.startswith("projects/acme-ml/locations/us-central1/batchPredictionJobs/")
    assert job.name.rsplit("/", 1)[-1].isdigit()
    assert pending.state == types.JobState.JOB_STATE_PENDING
    assert done.state == types.JobState.JOB_STATE_SUCCEEDED
    assert folder.startswith(f"gs://{gcs_bucket}/out/prediction-model-")
    assert (done.completion_stats.successful_count, done.completion_stats.failed_count) == (2, 3)
    by_key = {r.get("key"): r for r in rows}
    assert by_key["a"]["status"] == "" and by_key["a"]["response"]["candidates"]
    assert by_key["a"]["request"] == _request("Summarize item a.")
    assert by_key["c"]["response"]["usageMetadata"]["promptTokenCount"] > 0
    assert by_key["b"]["status"].startswith("Bad Request: ") and "response" not in by_key["b"]
    assert "contents is not specified" in json.loads(
        by_key["b"]["status"].removeprefix("Bad Request: "))["error"]["message"]
    assert "has no 'request' object" in by_key["d"]["status"]
    assert "Line 2 of the input is not JSON" in by_key[None]["status"]
    assert emulator.stats.generate_calls[MODEL]["batch"] == 2


def test_a_batch_job_whose_input_is_missing_fails_naming_it(
        emulator: EmbeddedEmulator, gcs_bucket: str):
    client = platform_client(emulator.base_url)
    job = client.batches.create(model=MODEL, src=f"gs://{gcs_bucket}/nowhere.jsonl",
                                config=types.CreateBatchJobConfig(dest=f"gs://{gcs_bucket}/o"))
    emulator.control.advance_clock(60)
    failed = client.batches.get(name=job.name)
    assert failed.state == types.JobState.JOB_STATE_FAILED
    assert f"gs://{gcs_bucket}/nowhere.jsonl" in failed.error.message


def test_batch_jobs_are_listed_cancelled_and_deleted_as_the_platform_does(
        emulator: EmbeddedEmulator, gcs_bucket: str):
    storage.Client(project="test").bucket(gcs_bucket).blob("in.jsonl").upload_from_string(
        _lines({"request": _request("x")}))
    client = platform_client(emulator.base_url)
    config = types.CreateBatchJobConfig(dest=f"gs://{gcs_bucket}/out")
    running = client.batches.create(model=MODEL, src=f"gs://{gcs_bucket}/in.jsonl",
                                    config=config)
    with pytest.raises(errors.ClientError) as not_finished:
        client.batches.delete(name=running.name)
    client.batches.cancel(name=running.name)
    cancelled = client.batches.get(name=running.name)
    listed = [j.name for j in client.batches.list()]
    client.batches.delete(name=running.name)

    assert not_finished.value.code == 400 and "not finished" in not_finished.value.message
    assert cancelled.state == types.JobState.JOB_STATE_CANCELLED
    assert listed == [running.name]
    assert list(client.batches.list()) == []
    assert not list(storage.Client(project="test").list_blobs(gcs_bucket, prefix="out/"))
