"""The yearly video (PyAV + libx264): 1280x720 H.264 MP4, slides with cross-fade transitions.

Static slides are not re-encoded frame after frame: the stream is variable-frame-rate (a
millisecond time base), so a slide held for three seconds is *one* frame whose successor
comes three seconds later. Only transitions are real 25 fps motion. The MP4 gets ``faststart``
(index first) so browsers start playing before the download ends.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from PIL import Image

from .figures import summarize
from .i18n import format_period, words
from .slides import H, W, closing_card, poc_slide, title_card

Progress = Callable[[int], None]
FPS = 25
TRANSITION_FRAMES = 10  # 0.4 s cross-fade
TITLE_SECONDS, SLIDE_SECONDS, CLOSING_SECONDS = 3.0, 3.0, 4.0
TIME_BASE = Fraction(1, 1000)
PRESET = "superfast"


# Pillow's YCbCr is full-range BT.601 (JPEG); H.264 players expect limited range (16-235/240).
_LIMITED = [16 + round(v * 219 / 255) for v in range(256)] + [
    16 + round(v * 224 / 255) for v in range(256)
] * 2


def to_ycbcr(image: Image.Image) -> Image.Image:
    """``image`` as limited-range BT.601 Y'CbCr (4:4:4), ready to blend and subsample."""
    return image.convert("RGB").convert("YCbCr").point(_LIMITED)


def _yuv420_frame(ycc: Image.Image) -> av.VideoFrame:
    """A yuv420p frame from a Y'CbCr image, without a trip through swscale (much faster)."""
    y, cb, cr = ycc.split()
    frame = av.VideoFrame(W, H, "yuv420p")
    for plane, band in zip(frame.planes, (y, cb.reduce(2), cr.reduce(2)), strict=True):
        if plane.line_size == band.width:
            plane.update(band.tobytes())
        else:  # padded rows: copy line by line
            data, width = band.tobytes(), band.width
            buffer = bytearray(plane.line_size * band.height)
            for row in range(band.height):
                start = row * plane.line_size
                buffer[start : start + width] = data[row * width : (row + 1) * width]
            plane.update(bytes(buffer))
    return frame


class _Encoder:
    """Feeds Y'CbCr images to libx264 with explicit millisecond timestamps."""

    def __init__(self, out: Path) -> None:
        self.container = av.open(str(out), mode="w", options={"movflags": "+faststart"})
        self.stream = self.container.add_stream(
            "libx264",
            rate=FPS,
            options={
                "crf": "23",
                "preset": PRESET,
                "tune": "stillimage",
                "x264-params": "colormatrix=smpte170m:colorprim=smpte170m:transfer=smpte170m",
            },
        )
        self.stream.width, self.stream.height = W, H
        self.stream.pix_fmt = "yuv420p"
        self.stream.time_base = TIME_BASE
        self.stream.codec_context.time_base = TIME_BASE
        self.ms = 0

    def frame(self, image: Image.Image, hold_seconds: float) -> None:
        """Show ``image`` now, for ``hold_seconds`` (one encoded frame, however long)."""
        frame = _yuv420_frame(image)
        frame.pts = self.ms
        frame.time_base = TIME_BASE
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.ms += max(1, round(hold_seconds * 1000))

    def transition(self, before: Image.Image, after: Image.Image) -> None:
        for n in range(1, TRANSITION_FRAMES + 1):
            self.frame(
                Image.blend(before, after, n / (TRANSITION_FRAMES + 1)), 1 / FPS
            )  # in Y'CbCr

    def close(self, last: Image.Image) -> None:
        # Repeat the last image at the very end, so that it is shown for its full duration.
        self.ms -= 1
        self.frame(last, 0.001)
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()


def render_video(
    pocs: list[dict[str, Any]],
    out: Path,
    *,
    title: str,
    period: tuple[date, date],
    language: str = "en",
    progress: Progress | None = None,
    thumbnail: Path | None = None,
) -> Path:
    """Write the video of ``pocs`` to ``out`` (and the title card as a JPEG ``thumbnail``)."""
    report = progress or (lambda _pct: None)
    w = words(language)
    figures = summarize(pocs, unknown=w["unknown"], language=language, period=period)
    period_text = format_period(period[0], period[1], language)
    count_line = f"{len(pocs)} {w['pocs']}"
    card = title_card(title or w["video_title"], period_text, count_line)
    if thumbnail is not None:
        card.save(thumbnail, "JPEG", quality=85)
    current = to_ycbcr(card)
    encoder = _Encoder(out)
    try:
        encoder.frame(current, TITLE_SECONDS)
        for index, poc in enumerate(pocs, start=1):
            slide = to_ycbcr(poc_slide(poc, index, len(pocs), language))
            encoder.transition(current, slide)
            encoder.frame(slide, SLIDE_SECONDS)
            current = slide
            report(int(95 * index / max(1, len(pocs))))
        closing = to_ycbcr(closing_card(figures, language, empty=not pocs))
        encoder.transition(current, closing)
        encoder.frame(closing, CLOSING_SECONDS)
        encoder.close(closing)
    except BaseException:
        encoder.container.close()
        out.unlink(missing_ok=True)
        raise
    report(100)
    return out
