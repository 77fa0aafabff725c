"""Every way a user names a folder, a prefix or a manifest finds the same items under the
same ids and URIs; ids never clash silently; files no task takes are named, not dropped."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
import uuid
from pathlib import Path

import pytest
from flashfirst.flows.analyze import analyze_with
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flashfirst.emulator import EmbeddedEmulator
from flashfirst.errors import ConfigError, DuplicateIds, ManifestError
from flashfirst.inputs.discover import Discovery, discover, run_inputs
from flashfirst.inputs.skipped import SkipReason
from flashfirst.items import WorkItem
from flashfirst.params import AnalyzeParams
from flashfirst.settings import Settings
from flashfirst.storage import Storage

FEW = settings(max_examples=12, deadline=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture,
                                      HealthCheck.too_slow])

# What a folder's file turns into, by extension: run (an item) or skipped with this reason.
RUN = {".txt", ".MP4", ".wav", ".png", ".pdf"}
SKIP = {".zip": SkipReason.ARCHIVE, ".xlsx": SkipReason.SPREADSHEET,
        ".csv": SkipReason.SPREADSHEET, ".xyz": SkipReason.UNKNOWN_EXTENSION,
        "": SkipReason.UNKNOWN_EXTENSION}
STEM = st.text(st.sampled_from("ab-. _éü日本%#+',\""), min_size=1, max_size=8)
PREFIX = st.sampled_from(["", "-", "--", ".", "..", " ", "1-", "2-", "x"])
FOLDER = st.sampled_from(["", "sub/", "sub dir/", "ü/", ".git/", "-d/", "sub/.cache/"])


@st.composite
def file_trees(draw: st.DrawFn) -> list[str]:
    """File names below a folder: stems sharing a name but for a prefix (`1-a.txt`,
    `2-a.txt`), leading dashes and dots, spaces, unicode, hidden folders."""
    stems = draw(st.lists(STEM, min_size=1, max_size=3, unique=True))
    names = set()
    for stem in stems:
        for prefix in draw(st.lists(PREFIX, min_size=1, max_size=3, unique=True)):
            ext = draw(st.sampled_from(sorted(RUN | set(SKIP))))
            name = draw(FOLDER) + prefix + stem + ext
            if all(part not in (".", "..") for part in name.split("/")):
                names.add(name)
    folders = {n.rsplit("/", 1)[0] for n in names if "/" in n}
    names -= folders  # a file and a folder of one name cannot both exist
    if not expected(names)[0]:
        names.add("run me.txt")  # a source with nothing to run is refused (tested below)
    return sorted(names)


def expected(names: set[str] | list[str]) -> tuple[set[str], set[str]]:
    """Ids that run, and names listed as skipped (a hidden folder once), by the rules the
    README gives — computed here, not by the code under test."""
    ids, skipped = set(), set()
    for name in names:
        parts = name.split("/")
        hidden = [n for n, p in enumerate(parts) if p.startswith(".")]
        ext = os.path.splitext(parts[-1])[1] if not parts[-1].startswith(".") else ""
        if hidden:
            skipped.add("/".join(parts[:hidden[0] + 1]))
        elif ext in RUN:
            ids.add(name)
        else:
            skipped.add(name)
    return ids, skipped


def summary(found: Discovery) -> tuple[dict[str, str], set[str]]:
    return {i.id: i.uri for i in found.items}, {s.name for s in found.skipped}


def local_forms(root: Path, folder: Path) -> list[tuple[Path, str]]:
    """(working directory, spelling) pairs that all name ``folder``."""
    link = root / "link"
    link.symlink_to(folder, target_is_directory=True)
    (root / "elsewhere").mkdir()
    rel = folder.relative_to(root)
    return [(root, str(rel)), (root, f"./{rel}"), (root, f"{rel}/"), (root, f"./{rel}//"),
            (root / "elsewhere", f"../{rel}"), (root, str(folder)), (root, f"{folder}/"),
            (root, folder.as_uri()), (root, "link"), (root, "link/"), (root, str(link)),
            (root / "elsewhere", "../link/")]


def write_manifest(path: Path, ids: set[str], spell: str) -> None:
    """One line per id (JSONL or CSV by the suffix); its URI relative to the manifest,
    spelt ``name`` or ``./name``."""
    rows = [{"id": i, "uri": spell + i} for i in sorted(ids)]
    if path.suffix == ".csv":
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, ["id", "uri"])
            writer.writeheader()
            writer.writerows(rows)
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))


@FEW
@given(names=file_trees(), folder_name=st.sampled_from(["inbox", "in box", "-in", "ün"]))
def test_every_spelling_of_a_local_folder_or_manifest_finds_the_same_items(
        names: list[str], folder_name: str):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / "data" / folder_name
        for name in names:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(b"x")
        ids, skipped = expected(names)
        uris = {i: f"{folder.resolve()}/{i}" for i in ids}
        forms = local_forms(root, folder)
        for cwd, spelling in forms:
            with contextlib.chdir(cwd):
                assert summary(discover(spelling, Storage())) == (uris, skipped), spelling
        for manifest in ("items.jsonl", "items.csv"):
            write_manifest(root / "data" / manifest, ids, "./" + folder_name + "/")
            write_manifest(folder / manifest, ids, "")
            for cwd, spelling in forms:
                with contextlib.chdir(cwd):
                    for path in (f"{spelling.rstrip('/')}/../{manifest}",
                                 f"{spelling.rstrip('/')}/{manifest}"):
                        assert summary(discover(path, Storage())) == (uris, set()), path


@pytest.fixture
def gcs_storage(gcs_bucket: str) -> tuple[str, Storage]:
    return gcs_bucket, Storage(project="test")


@settings(FEW, max_examples=10)
@given(names=file_trees(), prefix=st.sampled_from(["in", "in box/ü", "-in"]))
def test_a_gcs_prefix_with_or_without_its_slash_and_its_manifest_find_the_same_items(
        gcs_storage: tuple[str, Storage], names: list[str], prefix: str):
    bucket, storage = gcs_storage
    prefix = f"{prefix}-{uuid.uuid4().hex[:6]}"  # each example its own prefix
    for name in names:
        storage.write_bytes(f"gs://{bucket}/{prefix}/{name}", b"x")
    ids, skipped = expected(names)
    uris = {i: f"gs://{bucket}/{prefix}/{i}" for i in ids}
    for spelling in (f"gs://{bucket}/{prefix}", f"gs://{bucket}/{prefix}/",
                     f"gs://{bucket}/{prefix}//"):
        assert summary(discover(spelling, storage)) == (uris, skipped), spelling
    for spell, at in (("", prefix), ("./", prefix), ("../", f"{prefix}/m")):
        manifest = f"gs://{bucket}/{at}/items.jsonl"
        storage.write_text(manifest, "".join(json.dumps({"id": i, "uri": spell + i}) + "\n"
                                              for i in sorted(ids)))
        assert summary(discover(manifest, storage)) == (uris, set()), (spell, at)


def test_dot_slash_inbox_keeps_whole_ids_so_two_files_are_two_items(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    for name in ("1-a.txt", "2-a.txt", "note.txt", "sub/call.wav"):
        (inbox / name).write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    found = discover("./inbox", Storage())
    assert {i.id for i in found.items} == {"1-a.txt", "2-a.txt", "note.txt", "sub/call.wav"}


def test_a_manifest_named_without_a_folder_reads_uris_beside_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "clip.mp4").write_bytes(b"x")
    (tmp_path / "items.jsonl").write_text('{"id": "clip", "uri": "clip.mp4"}\n')
    monkeypatch.chdir(tmp_path)
    (clip,) = discover("items.jsonl", Storage()).items
    assert clip.uri == str(tmp_path.resolve() / "clip.mp4")


def test_a_given_item_and_a_folder_file_with_one_id_are_refused_naming_both(tmp_path: Path):
    (tmp_path / "a.txt").write_text("from the folder")
    params = AnalyzeParams(items=[WorkItem(id="a.txt", text="inline")], source=str(tmp_path))
    with pytest.raises(DuplicateIds) as err:
        run_inputs(params, Storage())
    assert (f"'a.txt': items[0] of the run's parameters and {tmp_path.resolve() / 'a.txt'}"
            in str(err.value))


def test_a_given_item_and_a_manifest_line_with_one_id_are_refused_naming_the_line(
        tmp_path: Path):
    (tmp_path / "items.jsonl").write_text('{"id": "q", "text": "one"}\n'
                                          '{"id": "r", "text": "two"}\n')
    params = AnalyzeParams(items=[WorkItem(id="r", text="again")],
                           source=str(tmp_path / "items.jsonl"))
    with pytest.raises(DuplicateIds, match=r"'r': items\[0\] of the run's parameters and "
                                           r".*items\.jsonl line 2"):
        run_inputs(params, Storage())


def test_a_file_named_like_a_shared_context_item_is_refused(tmp_path: Path):
    (tmp_path / "context:clip.mp4").write_bytes(b"x")
    (tmp_path / "other.mp4").write_bytes(b"x")
    with pytest.raises(DuplicateIds, match="'context:clip.mp4' from .*shared context"):
        run_inputs(AnalyzeParams(source=str(tmp_path)), Storage())


def test_files_no_task_takes_are_listed_with_the_reason_and_a_hidden_folder_once(
        tmp_path: Path):
    for name in ("clip.mp4", "old.zip", "prices.xlsx", "raw.bin", "README", ".DS_Store",
                 ".git/HEAD", ".git/objects/ab/cd", "sub/.hidden.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "elsewhere").symlink_to(tmp_path.parent, target_is_directory=True)
    (tmp_path / "gone.mp4").symlink_to(tmp_path / "deleted.mp4")
    found = discover(str(tmp_path), Storage())
    assert [i.id for i in found.items] == ["clip.mp4"]
    assert [(s.name, s.reason, s.files) for s in found.skipped] == [
        (".DS_Store", SkipReason.HIDDEN, 1), (".git", SkipReason.HIDDEN, 2),
        ("README", SkipReason.UNKNOWN_EXTENSION, 1), ("elsewhere", SkipReason.LINK, 1),
        ("gone.mp4", SkipReason.LINK, 1), ("old.zip", SkipReason.ARCHIVE, 1),
        ("prices.xlsx", SkipReason.SPREADSHEET, 1), ("raw.bin", SkipReason.UNKNOWN_EXTENSION, 1),
        ("sub/.hidden.txt", SkipReason.HIDDEN, 1)]
    assert "unpack it" in found.skipped[5].detail


def test_running_the_folder_that_holds_the_storage_root_skips_our_own_files(
        tmp_path: Path):
    """`flashfirst run .` where ./flashfirst-data holds earlier runs: their reports and
    answers are flashfirst's own files, not inputs."""
    (tmp_path / "note.txt").write_text("a note")
    for name in ("runs/r1/report.md", "runs/r1/report.json", "answers/emu/log/w.jsonl"):
        (tmp_path / "flashfirst-data" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "flashfirst-data" / name).write_text("{}")
    found = run_inputs(AnalyzeParams(source=str(tmp_path)), Storage(),
                       storage_root=str(tmp_path / "flashfirst-data"))
    assert [i.id for i in found.items] == ["note.txt"]
    assert [(s.name, s.reason, s.files) for s in found.skipped] == [
        ("flashfirst-data", SkipReason.OUR_STORAGE, 3)]


def test_a_missing_folder_or_a_plain_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="no-such: no such file or folder"):
        discover(str(tmp_path / "no-such"), Storage())
    (tmp_path / "clip.mp4").write_bytes(b"x")
    with pytest.raises(ConfigError, match="a file, not a folder"):
        discover(str(tmp_path / "clip.mp4"), Storage())


def test_manifest_uris_of_another_scheme_or_above_the_bucket_are_refused_by_line(
        tmp_path: Path):
    (tmp_path / "items.jsonl").write_text('{"id": "a", "uri": "https://x.test/a.mp4"}\n'
                                          '{"id": "b", "uri": "clip.mp4"}\n')
    with pytest.raises(ManifestError, match=r"line 1, field 'uri': 'https://x.test/a.mp4': "
                                            r"only local paths, file:// and gs://"):
        discover(str(tmp_path / "items.jsonl"), Storage())


@pytest.mark.usefixtures("prefect_api")
def test_a_run_given_an_item_and_a_folder_file_of_one_id_refuses_before_any_call(
        run_settings: Settings, emulator: EmbeddedEmulator, tmp_path: Path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.txt").write_text("from the folder")
    params = AnalyzeParams(items=[WorkItem(id="a.txt", text="given inline")],
                           source=str(inbox), output=str(tmp_path / "out"))
    with pytest.raises(ConfigError) as err:
        analyze_with(params, run_settings)
    message = str(err.value)
    assert "'a.txt'" in message and str(inbox / "a.txt") in message and "items[0]" in message
    assert not (tmp_path / "out").exists()
    assert emulator.stats.calls_to("generateContent") == 0
