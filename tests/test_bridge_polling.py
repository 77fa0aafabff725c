"""The polling sensor flow against the GCS emulator and a real Prefect server: each object
version is announced exactly once, however often and however concurrently we poll."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from fixtures.gcs import free_port
from fixtures.prefect import PrefectServer
from flashfirst.flows.poll_bucket import PollRequest, poll_bucket
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

from flashfirst.errors import StorageError
from flashfirst.inputs.seen_objects import SeenManifest, StoredObject
from flashfirst.storage import Storage


def test_each_object_version_is_announced_once_across_repeated_polls(
        gcs_bucket: str, prefect_api: PrefectServer) -> None:
    storage = Storage()
    a = storage.write_text(f"gs://{gcs_bucket}/in/a.txt", "a1")
    b = storage.write_text(f"gs://{gcs_bucket}/in/b.txt", "b1")
    request = PollRequest(source=f"gs://{gcs_bucket}/in")

    first = poll_bucket(request)
    second = poll_bucket(request)
    a2 = storage.write_text(f"gs://{gcs_bucket}/in/a.txt", "a2")
    third = poll_bucket(request)

    assert first.announced == [f"gs://{gcs_bucket}/in/a.txt", f"gs://{gcs_bucket}/in/b.txt"]
    assert second.announced == []
    assert third.announced == [f"gs://{gcs_bucket}/in/a.txt"]
    for name, generation in [("a.txt", a), ("b.txt", b), ("a.txt", a2)]:
        resource = f"gcs.object.{gcs_bucket}/in/{name}#{generation}"
        assert len(prefect_api.wait_for_events("gcs.object.finalized", resource)) == 1


def test_the_record_of_seen_objects_stays_outside_the_watched_prefix(
        gcs_bucket: str, prefect_api: PrefectServer) -> None:
    Storage().write_text(f"gs://{gcs_bucket}/x.txt", "x")

    report = poll_bucket(PollRequest(source=f"gs://{gcs_bucket}"))
    again = poll_bucket(PollRequest(source=f"gs://{gcs_bucket}"))

    assert report.announced == [f"gs://{gcs_bucket}/x.txt"]
    assert again.announced == []  # its own marker object is not a new object
    assert Storage().exists(f"gs://{gcs_bucket}/.flashfirst/poll-seen/_root.json")


def test_skip_existing_takes_what_is_already_there_as_seen(
        gcs_bucket: str, prefect_api: PrefectServer) -> None:
    storage = Storage()
    storage.write_text(f"gs://{gcs_bucket}/in/old.txt", "old")
    request = PollRequest(source=f"gs://{gcs_bucket}/in", skip_existing=True)

    first = poll_bucket(request)
    storage.write_text(f"gs://{gcs_bucket}/in/new.txt", "new")
    second = poll_bucket(request)

    assert first.announced == []
    assert second.announced == [f"gs://{gcs_bucket}/in/new.txt"]


def test_a_local_folder_is_polled_the_same_way(tmp_path, prefect_api: PrefectServer) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "clip.wav").write_bytes(b"RIFF")
    request = PollRequest(source=str(tmp_path / "in"))

    first = poll_bucket(request)
    second = poll_bucket(request)

    assert first.announced == [str(tmp_path / "in" / "clip.wav")]
    assert second.announced == []


def test_a_folder_polled_under_another_spelling_announces_nothing_twice(
        tmp_path, monkeypatch: pytest.MonkeyPatch, prefect_api: PrefectServer) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "clip.wav").write_bytes(b"RIFF")
    monkeypatch.chdir(tmp_path)

    first = poll_bucket(PollRequest(source="./in"))
    again = [poll_bucket(PollRequest(source=s)).announced
             for s in ("in/", str(tmp_path / "in"), (tmp_path / "in").as_uri())]

    assert first.announced == [str(tmp_path.resolve() / "in" / "clip.wav")]
    assert again == [[], [], []]


def test_a_bucket_that_is_down_fails_the_poll_within_the_storage_retry_setting(
        prefect_api: PrefectServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{free_port()}")  # no one
    monkeypatch.setenv("FLASHFIRST_STORAGE_RETRY_S", "1")

    with pytest.raises(StorageError, match="gs://down/in: still failing after 1 s"):
        poll_bucket(PollRequest(source="gs://down/in"))


@pytest.mark.parametrize("where", ["local", "gcs"])
def test_overlapping_polls_claim_each_object_exactly_once(
        where: str, request: pytest.FixtureRequest) -> None:
    root = (f"gs://{request.getfixturevalue('gcs_bucket')}" if where == "gcs"
            else str(request.getfixturevalue("tmp_path")))
    listing = [StoredObject(bucket="b", name=f"in/{i}.txt", generation=1) for i in range(20)]
    manifest = SeenManifest(f"{root}/.flashfirst/poll-seen.json")

    with ThreadPoolExecutor(8) as pool:
        claims = list(pool.map(lambda _: manifest.claim_new(listing, attempts=50), range(8)))

    claimed = [o.key for claim in claims for o in claim]
    assert sorted(claimed) == sorted(o.key for o in listing)


def test_an_object_whose_announcement_failed_is_offered_to_the_next_poll(
        gcs_bucket: str) -> None:
    listing = [StoredObject(bucket=gcs_bucket, name=f"in/{i}.txt", generation=1)
               for i in range(3)]
    manifest = SeenManifest(f"gs://{gcs_bucket}/.flashfirst/poll-seen/in.json")

    first = manifest.claim_new(listing)
    manifest.release([listing[1]])  # its event or run could not be started
    second = manifest.claim_new(listing)

    assert (len(first), second) == (3, [listing[1]])


def test_deployment_mode_starts_one_run_per_new_object(
        gcs_bucket: str, prefect_api: PrefectServer) -> None:
    deployment_id = asyncio.run(create_deployment("on-upload-test", "poll-target"))
    storage = Storage()
    for name in ["a.txt", "b.txt"]:
        storage.write_text(f"gs://{gcs_bucket}/in/{name}", name)
    request = PollRequest(source=f"gs://{gcs_bucket}/in",
                          deployment="on-upload-test/poll-target")

    poll_bucket(request)
    poll_bucket(request)
    storage.delete(request.marker())  # even if the record of seen objects is lost,
    again = poll_bucket(request)  # Prefect finds the runs by their idempotency keys

    runs = asyncio.run(flow_runs_of(deployment_id))
    assert len(again.announced) == 2
    assert sorted(r.parameters["uri"] for r in runs) == [
        f"gs://{gcs_bucket}/in/a.txt", f"gs://{gcs_bucket}/in/b.txt"]


async def create_deployment(flow_name: str, name: str) -> uuid.UUID:
    """A deployment with no worker: its runs stay scheduled, which is all we count."""
    async with get_client() as client:
        flow_id = await client.create_flow_from_name(flow_name)
        return await client.create_deployment(flow_id=flow_id, name=name)


async def flow_runs_of(deployment_id: uuid.UUID) -> list:
    async with get_client() as client:
        return await client.read_flow_runs(deployment_filter=DeploymentFilter(
            id=DeploymentFilterId(any_=[deployment_id])))
