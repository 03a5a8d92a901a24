"""Draw the app icon at every size Briefcase asks for (Android, iOS, desktop) as small PNGs.

``python mobile/scripts/make_icons.py`` rewrites ``mobile/icons/``; the PNGs are committed so
that a Briefcase build needs nothing but this folder. The drawing is a banknote-green rounded
square with a white "B" made of shapes (no font needed, same pixels everywhere).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parents[1]
NAME = "mrbill"
GREEN, DARK, WHITE = (15, 118, 110, 255), (17, 94, 89, 255), (255, 255, 255, 255)

# Briefcase's icon sizes: Android (round, square incl. splash, adaptive), iOS, desktop.
ANDROID_ROUND = (48, 72, 96, 144, 192)
ANDROID_SQUARE = (48, 72, 96, 144, 192, 320, 480, 640, 960, 1280)
ANDROID_ADAPTIVE = (108, 162, 216, 324, 432)
IOS = (20, 29, 40, 58, 60, 76, 80, 87, 120, 152, 167, 180, 640, 1024, 1280, 1920)
DESKTOP = (16, 32, 64, 128, 256, 512)


def files() -> dict[str, tuple[str, int]]:
    """File name -> (shape, size) of every icon."""
    wanted: dict[str, tuple[str, int]] = {}
    for size in ANDROID_ROUND:
        wanted[f"{NAME}-round-{size}.png"] = ("round", size)
    for size in ANDROID_SQUARE:
        wanted[f"{NAME}-square-{size}.png"] = ("square", size)
    for size in ANDROID_ADAPTIVE:
        wanted[f"{NAME}-adaptive-{size}.png"] = ("adaptive", size)
    for size in sorted({*IOS, *DESKTOP}):
        wanted[f"{NAME}-{size}.png"] = ("square", size)
    wanted[f"{NAME}.png"] = ("square", 512)
    return wanted


def draw(shape: str, size: int) -> Image.Image:
    scale = 4  # draw large, then shrink: smooth edges
    n = size * scale
    image = Image.new("RGBA", (n, n), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    if shape == "round":
        pen.ellipse((0, 0, n - 1, n - 1), fill=GREEN)
    elif shape == "square":
        pen.rounded_rectangle((0, 0, n - 1, n - 1), radius=n // 5, fill=GREEN)
    # adaptive: transparent background, the mark inside the central 61% (the safe zone)
    inner = 0.61 if shape == "adaptive" else 1.0
    _mark(pen, n, inner, adaptive=shape == "adaptive")
    return image.resize((size, size), Image.Resampling.LANCZOS)


def _mark(pen: ImageDraw.ImageDraw, n: int, inner: float, *, adaptive: bool) -> None:
    """A "B" for Bill: a bar and two bowls, with a dark note band behind it."""
    box = n * inner
    left = (n - box) / 2
    top = (n - box) / 2

    def x(f: float) -> float:
        return left + f * box

    def y(f: float) -> float:
        return top + f * box

    if not adaptive:
        pen.rectangle((x(0.0), y(0.44), x(1.0), y(0.56)), fill=DARK)
    color = GREEN if adaptive else WHITE
    stroke = max(1, round(box * 0.09))
    pen.rectangle((x(0.30), y(0.22), x(0.30) + stroke, y(0.78)), fill=color)
    pen.rounded_rectangle((x(0.30), y(0.22), x(0.66), y(0.50)), radius=box * 0.14,
                          outline=color, width=stroke)  # fmt: skip
    pen.rounded_rectangle((x(0.30), y(0.47), x(0.72), y(0.78)), radius=box * 0.15,
                          outline=color, width=stroke)  # fmt: skip


def main(out: Path = HERE / "icons") -> int:
    out.mkdir(parents=True, exist_ok=True)
    for name, (shape, size) in files().items():
        draw(shape, size).save(out / name, optimize=True)
    print(f"wrote {len(files())} icons to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "icons"))
