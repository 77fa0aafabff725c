"""Where media is cut to fit a window: on a silence near the even cut when ffmpeg finds
one, else at the even cut; every segment, with its overlap, within the longest span that
fits."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.media import run_ffmpeg

from flashfirst.media.split import find_boundaries, plan_spans


@pytest.fixture(scope="module")
def talk_with_a_pause(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 s of tone with silence from 27 s to 29 s."""
    dest = tmp_path_factory.mktemp("split") / "talk.flac"
    expr = "if(between(t,27,29),0,0.5*sin(2*PI*300*t))"
    run_ffmpeg("-f", "lavfi", "-i", f"aevalsrc=exprs='{expr}':s=16000:d=60", str(dest))
    return dest


def test_a_cut_lands_in_the_pause_near_the_even_cut(talk_with_a_pause: Path) -> None:
    spans = plan_spans(60.0, 35.0, 2.0, find_boundaries(talk_with_a_pause, True, False))
    assert len(spans) == 2
    assert spans[1].boundary == "silence"
    assert 27.5 < spans[1].owns_from_s < 28.5  # the middle of the pause, not 30 s
    assert spans[1].start_s == pytest.approx(spans[1].owns_from_s - 2.0)
    assert all(s.end_s - s.start_s <= 35.0 for s in spans)
    assert spans[-1].end_s == 60.0


def test_without_boundaries_the_cuts_are_even_and_every_span_fits() -> None:
    spans = plan_spans(18000.0, 7000.0, 5.0, lambda a, b: [])
    assert [s.boundary for s in spans] == ["start", "even", "even"]
    assert [s.owns_from_s for s in spans] == [0.0, 6000.0, 12000.0]
    assert all(s.end_s - s.start_s <= 7000.0 for s in spans)
    assert [s.end_s for s in spans] == [6000.0, 12000.0, 18000.0]
