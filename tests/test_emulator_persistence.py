"""Durable state (``state_dir``): files, caches and batches outlive the emulator process, as
they outlive a client's process on Google's side, so a second run can hit a cache or skip
an upload. Each test stops one emulator and starts another on the same directory."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fixtures.emulator import client_for
from fixtures.gcs import free_port, stop, wait_until_up
from google import genai
from google.genai import errors, types

from flashfirst.emulator import BatchTiming, EmbeddedEmulator, EmulatorConfig

FLASH = "gemini-2.5-flash-lite"  # stays served as itself (2.5 Flash retired 2026-12-01)
CONTEXT = "c" * 4 * 2100  # 2,100 tokens: above the 2,048 minimum


@contextmanager
def _running(state_dir: Path, **config: object) -> Iterator[tuple[EmbeddedEmulator,
                                                                  genai.Client]]:
    emu = EmbeddedEmulator(EmulatorConfig(latency_scale=0, state_dir=str(state_dir), **config))
    with emu, client_for(emu.base_url) as client:
        yield emu, client


def _cache(client: genai.Client, *parts: object, ttl: str = "3600s") -> types.CachedContent:
    return client.caches.create(model=FLASH, config=types.CreateCachedContentConfig(
        contents=[*parts, CONTEXT], ttl=ttl))


def test_files_and_caches_survive_a_restart(tmp_path: Path,
                                            emulator_media: dict[str, Path]) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("n" * 400)  # 100 tokens
    with _running(tmp_path / "state") as (_, client):
        video = client.files.upload(file=emulator_media["clip3s"])
        text = client.files.upload(file=notes)
        cache = _cache(client, types.Part.from_uri(file_uri=video.uri, mime_type="video/mp4"))

    with _running(tmp_path / "state") as (emu, client):
        again = client.files.get(name=video.name)
        cached = client.caches.get(name=cache.name)
        response = client.models.generate_content(
            model=FLASH, contents=[types.Part.from_uri(file_uri=text.uri, mime_type="text/plain"),
                                   "Sum up."], config={"cached_content": cache.name})
        newer = _cache(client)
        stored = emu.app.emulator_state.files[video.name.removeprefix("files/")]

    assert again.state == types.FileState.ACTIVE and again.size_bytes == video.size_bytes
    assert again.sha256_hash == video.sha256_hash and again.create_time == video.create_time
    assert stored.data is None and stored.blob is not None  # bytes on disk, not in memory
    assert stored.blob.read_bytes() == emulator_media["clip3s"].read_bytes()
    assert cached.usage_metadata.total_token_count == 3 * 258 + 3 * 32 + 2100
    assert cached.expire_time == cache.expire_time and cached.model == f"models/{FLASH}"
    usage = response.usage_metadata
    assert usage.cached_content_token_count == 3 * 258 + 3 * 32 + 2100
    assert usage.prompt_token_count == usage.cached_content_token_count + 100 + 2  # "Sum up."
    assert newer.name != cache.name  # names go on from the last run, never reused


def test_expired_and_deleted_resources_are_not_resurrected(
        tmp_path: Path, emulator_media: dict[str, Path]) -> None:
    state = tmp_path / "state"
    with _running(state) as (_, client):
        live = _cache(client)
        deleted = _cache(client)
        client.caches.delete(name=deleted.name)
        short = _cache(client, ttl="1s")
        gone = client.files.upload(file=emulator_media["tone5s"])
        client.files.delete(name=gone.name)
    time.sleep(max(0.0, short.expire_time.timestamp() - time.time()) + 0.05)

    with _running(state) as (emu, client):
        listed = [c.name for c in client.caches.list()]
        for name in (deleted.name, short.name):
            with pytest.raises(errors.ClientError) as missing:
                client.caches.get(name=name)
            assert missing.value.code == 404
        with pytest.raises(errors.ClientError) as no_file:
            client.files.get(name=gone.name)
        assert no_file.value.code == 403  # the API's answer for a file that is not there
        live_caches = emu.stats.live_caches

    assert listed == [live.name] and live_caches == 1
    assert sorted(p.stem for p in (state / "caches").glob("*.json")) == [
        live.name.removeprefix("cachedContents/")]  # the expired one is swept from disk
    assert not list((state / "files").iterdir())


def test_a_batch_finishes_in_the_next_process(tmp_path: Path) -> None:
    timing = BatchTiming(pending_s=0.2, running_s=0.2)
    with _running(tmp_path / "state", batch=timing) as (_, client):
        job = client.batches.create(model=FLASH, src=[
            {"contents": [{"parts": [{"text": "One."}], "role": "user"}]},
            {"contents": [{"parts": [{"text": "Two."}], "role": "user"}]}])
        assert job.state == types.JobState.JOB_STATE_PENDING
    time.sleep(0.5)

    with _running(tmp_path / "state", batch=timing) as (_, client):
        done = client.batches.get(name=job.name)
        listed = [j.name for j in client.batches.list()]

    assert done.state == types.JobState.JOB_STATE_SUCCEEDED and listed == [job.name]
    answers = [r.response.usage_metadata.prompt_token_count
               for r in done.dest.inlined_responses]
    assert answers == [1, 1]


def test_two_emulators_on_one_directory_never_share_a_name(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with _running(state) as (_, first), _running(state) as (_, second):
        names = {_cache(first).name, _cache(second).name, _cache(first).name}
    with _running(state) as (emu, client):
        listed = {c.name for c in client.caches.list()}
        emu.control.reset()  # forgets the directory's content too
    with _running(state) as (_, client):
        after_reset = list(client.caches.list())

    assert len(names) == 3 and listed == names
    assert after_reset == []


@contextmanager
def _standalone(state_dir: Path) -> Iterator[str]:
    """``python -m flashfirst.emulator --state-dir DIR`` as its own process."""
    port = free_port()
    log = state_dir.parent / f"emulator-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "flashfirst.emulator", "--port",
                                 str(port), "--state-dir", str(state_dir)],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/_emulator/health", proc, log, "the standalone emulator")
        yield url
    finally:
        stop(proc)


def test_standalone_emulator_keeps_state_across_restarts(
        tmp_path: Path, emulator_media: dict[str, Path]) -> None:
    with _standalone(tmp_path / "state") as url, client_for(url) as client:
        image = client.files.upload(file=emulator_media["image320x240"])
        cache = _cache(client)
    with _standalone(tmp_path / "state") as url, client_for(url) as client:
        assert client.files.get(name=image.name).state == types.FileState.ACTIVE
        response = client.models.generate_content(
            model=FLASH, contents=[types.Part.from_uri(file_uri=image.uri, mime_type="image/png"),
                                   "What?"], config={"cached_content": cache.name})
    assert response.usage_metadata.cached_content_token_count == 2100
    assert {d.modality.value: d.token_count
            for d in response.usage_metadata.prompt_tokens_details}["IMAGE"] == 258
