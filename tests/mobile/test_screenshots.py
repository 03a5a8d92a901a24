"""The same app on the Qt backend, offscreen, saved as PNGs in test-artifacts/mobile/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mrbill_mobile.api import ApiClient, PocsApi, SearchApi
from PIL import Image

from tests.harness.ywire import eventually
from tests.mobile.conftest import Person
from tests.mobile.facilitator import Facilitator
from tests.mobile.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
POCS = [
    ("Python chatbot for support", "python", ["nlp", "slack"], "done"),
    ("Kafka consumer lag monitor", "go", ["kafka", "observability"], "in_progress"),
    ("Rust WebAssembly image filters", "rust", ["wasm", "images"], "idea"),
    ("Python OCR pipeline", "python", ["ml", "ocr"], "in_progress"),
    ("TypeScript design system", "typescript", ["ui"], "done"),
]


def render(artifacts: Path, stack: Stack, person: Person, lang: str, code: str = "") -> list[str]:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONPATH": f"{ROOT}:{ROOT / 'mobile/src'}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.mobile.render_screens", str(artifacts), stack.base_url,
         person.email, person.password, lang, code],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saved = done.stdout.split("saved:", 1)[1].split()
    return saved


async def test_screenshots_of_each_main_screen(
    signed_in: ApiClient,
    person: Person,
    stack: Stack,
    artifacts: Path,
    facilitator: Facilitator,
) -> None:
    pocs = PocsApi(signed_in)
    for name, language, tags, status in POCS:
        await pocs.create({"name": name, "language": language, "tags": tags, "status": status})

    async def indexed() -> bool:
        return (await SearchApi(signed_in).search()).total == len(POCS)

    await eventually(indexed, timeout=20, what="the index")
    dojo = await facilitator.create("Kata: bowling game", start=True)
    await facilitator.create("Kata: roman numerals", scheduled_start_time="2031-03-02T19:00:00Z")
    writer = await facilitator.writer(dojo["dojo_id"])
    await writer.insert(
        "def score(rolls):\n    total = 0\n    for frame in range(10):\n"
        "        total += rolls[frame]\n    return total\n"
    )
    code = (await facilitator.invite(dojo["dojo_id"]))["code"]
    saved = render(artifacts, stack, person, "en", code)
    saved += render(artifacts, stack, person, "pt-BR")
    assert saved == [
        "en-01-login.png", "en-02-pocs.png", "en-03-search-typo.png",
        "en-04-form-validation.png", "en-05-edit.png", "en-06-report-ready.png",
        "en-07-dojo-live.png", "pt-BR-01-login.png", "pt-BR-02-pocs.png",
    ]  # fmt: skip
    for name in saved:
        with Image.open(artifacts / name) as image:
            assert image.width >= 400
            assert image.height >= 700
            assert len(image.getcolors(1 << 16) or range(1 << 16)) > 20  # not a blank window
