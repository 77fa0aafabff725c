"""Turning a folder, a bucket prefix or a manifest into work items."""

from __future__ import annotations

from pathlib import Path

import pytest

from flashfirst.errors import ConfigError
from flashfirst.inputs.discover import discover
from flashfirst.inputs.skipped import SkipReason
from flashfirst.items import TaskKind, WorkItem
from flashfirst.probe import MediaKind
from flashfirst.storage import Storage


def test_a_folder_gets_defaults_by_extension(tmp_path: Path):
    for name in ("a.mp4", "b.MP3", "c.png", "d.pdf", "e.txt", "notes.xyz", "sub/f.wav"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = discover(str(tmp_path), Storage())
    items = {i.id: i for i in found.items}
    assert set(items) == {"a.mp4", "b.MP3", "c.png", "d.pdf", "e.txt", "sub/f.wav"}
    assert [(s.name, s.reason) for s in found.skipped] == [
        ("notes.xyz", SkipReason.UNKNOWN_EXTENSION)]
    assert (items["a.mp4"].kind, items["a.mp4"].task) == (MediaKind.VIDEO, TaskKind.SUMMARIZE)
    assert items["b.MP3"].task is TaskKind.TRANSCRIBE
    assert items["c.png"].task is TaskKind.CLASSIFY
    assert items["d.pdf"].kind is MediaKind.DOCUMENT


def test_a_jsonl_manifest_resolves_relative_uris_and_keeps_inline_text(tmp_path: Path):
    rows = [WorkItem(id="clip", uri="media/clip.mp4", task=TaskKind.CLASSIFY),
            WorkItem(id="q1", text="What is the refund window?", task=TaskKind.ANSWER)]
    (tmp_path / "run.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in rows))
    clip, q1 = discover(str(tmp_path / "run.jsonl"), Storage()).items
    assert clip.uri == f"{tmp_path}/media/clip.mp4" and clip.kind is MediaKind.VIDEO
    assert q1.uri is None and q1.text == "What is the refund window?"


def test_a_csv_manifest_and_its_errors_name_the_line(tmp_path: Path):
    good = tmp_path / "good.csv"
    good.write_text("id,uri,task,prompt\nx,/data/x.wav,transcribe,\ny,/data/y.png,,Is it red?\n")
    x, y = discover(str(good), Storage()).items
    assert x.kind is MediaKind.AUDIO and y.prompt == "Is it red?"
    bad = tmp_path / "bad.csv"
    bad.write_text("id,task,text\nok,summarize,hi\nworse,dance,hi\n")
    with pytest.raises(ConfigError, match="line 3"):
        discover(str(bad), Storage())
    dupes = tmp_path / "dupes.jsonl"
    dupes.write_text('{"id": "a", "text": "1"}\n{"id": "a", "text": "2"}\n')
    with pytest.raises(ConfigError, match="line 2, field 'id': 'a' is already the id on line 1"):
        discover(str(dupes), Storage())


def test_a_folder_with_nothing_usable_is_a_clear_error(tmp_path: Path):
    (tmp_path / "readme.xyz").write_text("?")
    with pytest.raises(ConfigError, match="no files with a known extension"):
        discover(str(tmp_path), Storage())
