"""Look at generated media like a person would: PDF pages as PNGs, video frames as a strip."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import av
from PIL import Image

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def artifact_dir(name: str) -> Path:
    """``test-artifacts/<name>/`` (gitignored), emptied first."""
    folder = ARTIFACTS / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def pdf_text(pdf: Path) -> str:
    """The text of every page (poppler's pdftotext, layout kept)."""
    out = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", str(pdf), "-"],
        check=True,
        capture_output=True,
    )
    return out.stdout.decode()


def pdf_pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True)
    line = next(x for x in info.stdout.splitlines() if x.startswith("Pages:"))
    return int(line.split()[1])


def pdf_to_pngs(pdf: Path, folder: Path, *, dpi: int = 70) -> list[Path]:
    """Render every page to ``folder/page-N.png`` with pdftoppm."""
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(folder / "page")], check=True)
    return sorted(folder.glob("page-*.png"))


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    width: int
    height: int
    duration: float
    frames: int
    pix_fmt: str


def probe(video: Path) -> VideoInfo:
    """Decode the whole file with PyAV (as a player would) and describe it."""
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        last_pts, frames = 0, 0
        for frame in container.decode(stream):
            frames += 1
            last_pts = max(last_pts, frame.pts or 0)
        assert stream.time_base is not None
        return VideoInfo(
            codec=stream.codec_context.name,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            duration=float(last_pts * stream.time_base),  # when the last picture is shown
            frames=frames,
            pix_fmt=stream.codec_context.pix_fmt or "",
        )


def thumbnail_strip(video: Path, out: Path, *, at_seconds: list[float], width: int = 320) -> Path:
    """The frames shown at ``at_seconds``, side by side, as one PNG."""
    shots: list[Image.Image] = []
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        wanted = sorted(at_seconds)
        last = None
        for frame in container.decode(stream):
            t = float(frame.pts * stream.time_base)
            while wanted and t > wanted[0] and last is not None:
                shots.append(last)
                wanted.pop(0)
            last = frame.to_image()
        shots += [last] * len(wanted) if last is not None else []
    height = round(width * 720 / 1280)
    strip = Image.new("RGB", (width * len(shots), height), "black")
    for i, shot in enumerate(shots):
        strip.paste(shot.resize((width, height)), (i * width, 0))
    strip.save(out)
    return out
