"""The yearly video, checked by decoding it as a player would (PyAV), plus a thumbnail strip."""

from __future__ import annotations

import json
import time
from datetime import date
from typing import Any

import pytest
from PIL import ImageDraw

from media_jobs import slides, video
from media_jobs.figures import summarize
from media_jobs.video import render_video
from tests.harness.media import artifact_dir, probe, thumbnail_strip

from .samples import nasty_pocs, sample_pocs

YEAR = (date(2025, 1, 1), date(2025, 12, 31))


def _expected_seconds(slides: int) -> float:
    transition = video.TRANSITION_FRAMES / video.FPS
    return (
        video.TITLE_SECONDS
        + slides * (transition + video.SLIDE_SECONDS)
        + transition
        + video.CLOSING_SECONDS
    )


def test_video_of_50_pocs() -> None:
    folder = artifact_dir("video-pt-BR")
    pocs = sample_pocs(50) + nasty_pocs()
    started = time.perf_counter()
    out = render_video(
        pocs,
        folder / "video.mp4",
        title="Meu ano em POCs 2025",
        period=YEAR,
        language="pt-BR",
        thumbnail=folder / "thumbnail.jpg",
    )
    elapsed = time.perf_counter() - started
    info = probe(out)
    assert (info.codec, info.width, info.height, info.pix_fmt) == ("h264", 1280, 720, "yuv420p")
    assert info.duration == pytest.approx(_expected_seconds(len(pocs)), abs=0.2)
    # Held slides are one frame each: far fewer frames than 25 fps would need.
    assert info.frames < info.duration * video.FPS / 3
    slide = video.TITLE_SECONDS + video.TRANSITION_FRAMES / video.FPS + 1.0
    thumbnail_strip(
        out, folder / "strip.png", at_seconds=[1.0, slide, slide + 3.4, 180.0, info.duration - 1.0]
    )
    (folder / "metrics.json").write_text(
        json.dumps(
            {
                "pocs": len(pocs),
                "seconds": round(elapsed, 3),
                "bytes": out.stat().st_size,
                "duration": round(info.duration, 2),
                "frames": info.frames,
            }
        )
    )
    assert (folder / "thumbnail.jpg").stat().st_size > 5_000
    assert elapsed < 60


def test_empty_video_still_plays() -> None:
    folder = artifact_dir("video-empty-en")
    out = render_video([], folder / "video.mp4", title="My year in POCs 2031", period=YEAR)
    info = probe(out)
    assert info.codec == "h264"
    assert info.duration == pytest.approx(_expected_seconds(0), abs=0.2)
    thumbnail_strip(out, folder / "strip.png", at_seconds=[1.0, 5.0])


def test_cancelling_midway_leaves_no_file() -> None:
    folder = artifact_dir("video-cancelled")

    def progress(pct: int) -> None:
        if pct > 30:
            raise KeyboardInterrupt  # stands for the worker's JobCancelled

    with pytest.raises(KeyboardInterrupt):
        render_video(sample_pocs(6), folder / "v.mp4", title="t", period=YEAR, progress=progress)
    assert not (folder / "v.mp4").exists()


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the slides draw, in order."""
    texts: list[str] = []
    draw_text = ImageDraw.ImageDraw.text

    def spy(self: ImageDraw.ImageDraw, xy: Any, text: Any, *args: Any, **kwargs: Any) -> None:
        texts.append(str(text))
        draw_text(self, xy, text, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", spy)
    return texts


@pytest.mark.parametrize(
    ("language", "status", "label"),
    [("pt-BR", "in_progress", "Em andamento"), ("en", "in_progress", "In progress")],
)
def test_slide_footer_names_the_status(
    drawn: list[str], language: str, status: str, label: str
) -> None:
    poc = sample_pocs(1)[0] | {"status": status}
    slides.poc_slide(poc, 1, 1, language)
    footer = [t for t in drawn if "·" in t]
    assert footer, drawn
    assert footer[0].endswith(label)
    assert status not in " ".join(drawn)


def test_closing_card_of_several_years_says_which_year_was_busiest(drawn: list[str]) -> None:
    pocs = [{"started_on": "2024-03-01"}, {"started_on": "2025-03-01"}]
    pocs += [{"started_on": "2025-05-01"}, {"started_on": "2025-05-20"}]
    period = (date(2024, 1, 1), date(2025, 12, 31))
    image = slides.closing_card(summarize(pocs, period=period), "pt-BR", empty=False)
    image.save(artifact_dir("video-closing-two-years") / "closing.png")
    assert "mai/25" in drawn  # not "mai", and not March with 2024's and 2025's added up
    assert {"2024", "2025"} <= set(drawn)  # where each year's months begin
