"""What only gs:// has: object generations of a versioned bucket, bucket errors,
credentials from the environment; and big objects streamed rather than held in memory."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import tracemalloc
from pathlib import Path

import pytest
from fixtures.gcs import free_port, start_fake_gcs, stop
from google.cloud import storage as gcs

from flashfirst.errors import StorageError
from flashfirst.settings import Settings
from flashfirst.storage import Storage

MiB = 1024 * 1024


def test_reading_a_generation_returns_that_version_after_an_overwrite(gcs_server) -> None:
    bucket = gcs.Client(project="test").bucket("versioned-inputs")
    bucket.versioning_enabled = True
    bucket.create()
    storage = Storage()
    uri = "gs://versioned-inputs/clip.txt"
    announced = storage.write_text(uri, "the version the event announced")

    storage.write_text(uri, "a later upload")

    assert storage.read_text(uri, generation=announced) == "the version the event announced"
    with storage.local_copy(uri, generation=announced) as path:
        assert path.read_text() == "the version the event announced"
    assert storage.read_text(uri) == "a later upload"


@pytest.mark.parametrize("versioned", [True, False])
def test_a_streamed_read_never_mixes_in_bytes_of_a_later_upload(
        gcs_server, versioned: bool) -> None:
    bucket = gcs.Client(project="test").bucket(f"stream-{int(versioned)}")
    bucket.versioning_enabled = versioned
    bucket.create()
    storage = Storage()
    uri = f"gs://{bucket.name}/video.mp4"
    storage.write_bytes(uri, b"1" * (9 * MiB))  # more than one 8 MiB read chunk

    with storage.open_read(uri) as reader:
        head = reader.read(MiB)
        storage.write_bytes(uri, b"2" * (9 * MiB))
        if versioned:  # the version being read is still there: finish reading it
            whole = head + reader.read()
            assert len(whole) == 9 * MiB and set(whole) == {ord("1")}
        else:  # it was replaced and is gone: say so rather than return the new bytes
            with pytest.raises(StorageError, match="disappeared while reading"):
                reader.read()


def test_a_missing_bucket_is_named_in_the_error(gcs_server) -> None:
    with pytest.raises(StorageError, match="no such bucket 'no-such-bucket'"):
        Storage().read_bytes("gs://no-such-bucket/a.txt")


def test_a_missing_object_in_an_existing_bucket_says_so(gcs_bucket: str) -> None:
    with pytest.raises(StorageError, match=f"gs://{gcs_bucket}/a.txt: no such object"):
        Storage().read_bytes(f"gs://{gcs_bucket}/a.txt")


def test_without_credentials_the_error_says_how_to_provide_them(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "absent.json"))

    with pytest.raises(StorageError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        Storage().exists("gs://any-bucket/a.txt")


@pytest.mark.parametrize("kind", ["local", "gcs"])
def test_a_large_object_is_streamed_up_and_down_not_held_in_memory(
        kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    source = tmp_path / "big.bin"
    with open(source, "wb") as f:
        for i in range(64):
            f.write(os.urandom(MiB) if i == 0 else bytes([i]) * MiB)
    root = (f"gs://{request.getfixturevalue('gcs_bucket')}" if kind == "gcs"
            else str(tmp_path / "store"))
    uri = f"{root}/big.bin"
    storage = Storage()

    tracemalloc.start()
    try:
        storage.upload_file(source, uri)
        back = storage.download_file(uri, tmp_path / "back.bin")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert _sha256(back) == _sha256(source)
    assert storage.stat(uri).size == 64 * MiB
    assert peak < 32 * MiB, f"peak {peak / MiB:.0f} MiB for a 64 MiB object"


def test_a_write_during_a_short_outage_lands_once_the_bucket_is_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port, flags = free_port(), ("-filesystem-root", str(tmp_path / "data"))
    log = tmp_path / "fake-gcs.log"
    server = start_fake_gcs(log, port, *flags, backend="filesystem")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    gcs.Client(project="test").create_bucket("outage")
    stop(server)  # connection refused from here on, until the restart below
    restarted: list = []

    def restart_later() -> None:
        time.sleep(2)
        restarted.append(start_fake_gcs(log, port, *flags, backend="filesystem"))

    restarter = threading.Thread(target=restart_later)
    restarter.start()
    try:
        storage = Storage.for_settings(Settings(storage_retry_s=30))
        storage.write_text("gs://outage/answers/a.json", '{"output": "paid for"}')
        assert storage.read_text("gs://outage/answers/a.json") == '{"output": "paid for"}'
    finally:
        restarter.join()
        for proc in restarted:
            stop(proc)


def test_a_bucket_down_past_the_retry_setting_fails_naming_the_uri(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{free_port()}")  # no one
    storage = Storage.for_settings(Settings(storage_retry_s=1))
    uri = "gs://down/answers/a.json"

    with pytest.raises(StorageError, match=f"{uri}: still failing after 1 s of retries"):
        storage.write_text(uri, "{}")
    with pytest.raises(StorageError, match=f"{uri}: still failing after 1 s of retries"):
        storage.read_bytes(uri)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()
