"""Render the app with the Qt backend (offscreen) and save a PNG of each main screen.

Run by ``test_screenshots.py`` in its own process (Toga picks one backend per process):
``python -m tests.mobile.render_screens OUT_DIR API_URL EMAIL PASSWORD LANG [INVITE_CODE]``.
"""

from __future__ import annotations

import os
import sys

os.environ["TOGA_BACKEND"] = "toga_qt"
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import asyncio
from pathlib import Path

from mrbill_mobile.app import MrBillApp
from mrbill_mobile.config import AppConfig
from mrbill_mobile.tokens import MemoryTokenStore

WIDTH, HEIGHT = 420, 780


class Tour(MrBillApp):
    def __init__(self, out: Path, email: str, password: str, lang: str, code: str) -> None:
        self.out, self.email, self.password, self.code = out, email, password, code
        self.saved: list[str] = []
        config = AppConfig(sys.argv[2], lang, out / ".data")
        super().__init__(config, tokens=MemoryTokenStore(), opener=lambda url: None)

    def startup(self) -> None:
        super().startup()
        self.main_window.size = (WIDTH, HEIGHT)
        self.tour_task = asyncio.ensure_future(self._tour())

    async def shot(self, name: str) -> None:
        from PySide6.QtWidgets import QApplication

        await self.settle(within=90)
        for _ in range(3):  # let Qt lay out and paint what the last handlers changed
            QApplication.processEvents()
            await asyncio.sleep(0.05)
        path = self.out / f"{name}.png"
        if not self.main_window._impl.native.grab().save(str(path)):
            raise RuntimeError(f"could not save {path}")
        self.saved.append(path.name)

    def press(self, widget_id: str) -> None:
        self.widgets[widget_id]._impl.native.click()

    async def _tour(self) -> None:
        try:
            await self._screens()
        except BaseException as exc:
            print(f"tour failed: {exc!r}", file=sys.stderr)
            self.failed = True
        finally:
            print("saved:", " ".join(self.saved))
            self.exit()

    async def _screens(self) -> None:
        lang = self.t.language
        w = self.widgets
        w["email"].value = self.email
        w["password"].value = self.password
        await self.shot(f"{lang}-01-login")
        self.press("submit")
        await self.shot(f"{lang}-02-pocs")
        if lang != "en":
            return
        w["query"].value = "pyhton"
        await self.shot(f"{lang}-03-search-typo")
        w["query"].value = ""
        self.press("new")
        await self.settle()
        w["form-tags"].value = "demo, mobile"
        w["form-repository_url"].value = "not a url"
        self.press("save")
        await self.shot(f"{lang}-04-form-validation")
        first = self.list_screen.model.state.items[0]
        self.show_form(first.poc_id)
        await self.shot(f"{lang}-05-edit")
        self.press("nav.content")
        self.press("report")
        await self.shot(f"{lang}-06-report-ready")
        self.press("nav.dojos")
        await self.settle()
        live = self.dojo_screen.live.children[0]
        w["invite-code"].value = self.code
        live.children[-1]._impl.native.click()  # "Watch"
        await self.settle()
        await asyncio.sleep(0.5)  # the first sync arrives over the WebSocket
        await self.shot(f"{lang}-07-dojo-live")
        await self.dojo_screen.stop()


def main() -> int:
    out, _, email, password, lang = Path(sys.argv[1]), *sys.argv[2:6]
    code = sys.argv[6] if len(sys.argv) > 6 else ""
    out.mkdir(parents=True, exist_ok=True)
    app = Tour(out, email, password, lang, code)
    app.failed = False  # type: ignore[attr-defined]
    app.main_loop()
    return 1 if app.failed else 0  # type: ignore[attr-defined]


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # PySide6 can crash while the interpreter tears its objects down (seen: "none_dealloc"
    # during garbage collection at exit); everything is saved, so leave without teardown.
    os._exit(status)
