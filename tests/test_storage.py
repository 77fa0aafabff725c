"""Storage by URI behaves the same for a local folder and a gs:// bucket (GCS emulator,
real google-cloud-storage client)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flashfirst.errors import StorageError
from flashfirst.storage import PreconditionFailed, Storage, join


@pytest.fixture(params=["local", "gcs"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A place to write under: a temp folder, or a fresh bucket in the GCS emulator."""
    if request.param == "local":
        return str(tmp_path / "root")
    return f"gs://{request.getfixturevalue('gcs_bucket')}"


def test_written_text_reads_back_with_its_size(root: str) -> None:
    storage = Storage()
    uri = join(root, "out", "result.jsonl")

    storage.write_text(uri, '{"id": "a"}\n')

    assert storage.exists(uri)
    assert storage.read_text(uri) == '{"id": "a"}\n'
    assert storage.stat(uri).size == 12


def test_listing_shows_only_objects_under_the_prefix_sorted(root: str) -> None:
    storage = Storage()
    for name in ["in/b.mp4", "in/a.mp4", "in/sub/c.wav", "inbox/not-me.txt", "other.txt"]:
        storage.write_bytes(join(root, name), b"x")

    assert storage.list(join(root, "in")) == [
        join(root, "in/a.mp4"), join(root, "in/b.mp4"), join(root, "in/sub/c.wav")]
    assert [o.size for o in storage.list_objects(join(root, "in"))] == [1, 1, 1]


def test_delete_removes_the_object_and_deleting_again_is_harmless(root: str) -> None:
    storage = Storage()
    uri = join(root, "gone.txt")
    storage.write_text(uri, "bye")

    storage.delete(uri)
    storage.delete(uri)

    assert not storage.exists(uri)


def test_local_copy_is_a_file_with_the_objects_bytes(root: str) -> None:
    storage = Storage()
    uri = join(root, "clip.wav")
    storage.write_bytes(uri, b"RIFF....WAVE")

    with storage.local_copy(uri) as path:
        assert path.read_bytes() == b"RIFF....WAVE"
        assert path.suffix == ".wav"


def test_reading_a_missing_object_names_its_uri(root: str) -> None:
    storage = Storage()
    uri = join(root, "nope", "missing.txt")

    with pytest.raises(StorageError, match="missing.txt"):
        storage.read_bytes(uri)
    with pytest.raises(StorageError, match="missing.txt"), storage.local_copy(uri):
        pass


def test_write_if_absent_lets_exactly_one_writer_claim_a_name(root: str) -> None:
    storage = Storage()
    uri = join(root, "claims", "object-1")

    assert storage.write_if_absent(uri, b"first") is True
    assert storage.write_if_absent(uri, b"second") is False
    assert storage.read_bytes(uri) == b"first"


def test_a_write_based_on_a_stale_generation_is_refused(root: str) -> None:
    storage = Storage()
    uri = join(root, "manifest.json")
    first = storage.write_text(uri, "v1")
    storage.write_text(uri, "v2", if_generation_match=first)

    with pytest.raises(PreconditionFailed, match="manifest.json"):
        storage.write_text(uri, "v3 from a stale reader", if_generation_match=first)
    assert storage.read_text(uri) == "v2"


def test_reading_an_overwritten_generation_never_returns_the_new_bytes(root: str) -> None:
    storage = Storage()
    uri = join(root, "input.txt")
    old = storage.write_text(uri, "old")
    storage.write_text(uri, "new")

    # Without object versioning the old version is gone: an error, never "new" in its place.
    with pytest.raises(StorageError, match=f"generation {old}"):
        storage.read_bytes(uri, generation=old)
    assert storage.read_text(uri, generation=storage.stat(uri).generation) == "new"


def test_a_stream_that_fails_midway_leaves_no_object(root: str) -> None:
    storage = Storage()
    uri = join(root, "half.bin")

    with pytest.raises(StorageError, match="half.bin: source broke"):
        storage.write_stream(uri, BrokenStream(good_bytes=9 * 1024 * 1024))

    assert not storage.exists(uri)
    assert storage.list(root) == []  # no temp file or partial object left behind


def test_a_stream_that_fails_midway_keeps_the_previous_version(root: str) -> None:
    storage = Storage()
    uri = join(root, "report.json")
    storage.write_text(uri, "complete v1")

    with pytest.raises(StorageError, match="report.json: source broke"):
        storage.write_stream(uri, BrokenStream(good_bytes=9 * 1024 * 1024))

    assert storage.read_text(uri) == "complete v1"


class BrokenStream:
    """A readable source that fails after ``good_bytes`` (a dropped disk, a killed pipe):
    past the first 8 MiB chunk, so GCS has already received part of a resumable upload."""

    def __init__(self, good_bytes: int) -> None:
        self.left, self.position = good_bytes, 0

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > self.left:
            raise OSError("source broke")
        self.left -= size
        self.position += size
        return b"\0" * size

    def tell(self) -> int:
        return self.position
