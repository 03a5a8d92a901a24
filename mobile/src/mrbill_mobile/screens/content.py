"""Ask for a PDF report or a yearly video, watch its progress, open the file."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import toga

from ..api import ContentRequest
from ..logic.content import ContentJob
from .ui import caption, column, field, row, title

if TYPE_CHECKING:
    from ..app import MrBillApp


class ContentScreen:
    def __init__(self, app: MrBillApp) -> None:
        self.app = app
        t = app.t
        self.job: ContentJob | None = None
        this_year = datetime.date.today().year
        self.year = toga.NumberInput(id="year", min=2000, max=2100, step=1, value=this_year)
        self.report_button = toga.Button(
            t("content.report"), id="report", on_press=lambda w: self.request("report")
        )
        self.video_button = toga.Button(
            t("content.video"), id="video", on_press=lambda w: self.request("video")
        )
        self.state = caption(t("content.none"))
        self.progress = toga.ProgressBar(id="progress", max=100, value=0)
        self.open_button = toga.Button(
            t("content.open"), id="open", on_press=self.open_result, enabled=False
        )
        self.box = column(
            title(t("content.title")),
            field(t("content.year"), self.year),
            row(self.report_button, self.video_button, gap=4, margin=(8, 0)),
            self.state,
            self.progress,
            row(self.open_button, margin=(8, 0)),
            margin=8,
        )

    def reset(self) -> None:
        """Forget the last request (at log-out: it was someone's session)."""
        self.job = None
        self.state.text = self.app.t("content.none")
        self.progress.value = 0
        self.open_button.enabled = False

    def request(self, kind: str) -> None:
        self.app.spawn(self._request(kind))

    async def _request(self, kind: str) -> None:
        language = "pt-BR" if self.app.t.language == "pt-BR" else "en"
        year = int(self.year.value or 0)
        if self.job is None or not self.job.retries(kind, year, language):
            self.job = ContentJob(self.app.content, self.render)
        self.open_button.enabled = False
        for button in (self.report_button, self.video_button):
            button.enabled = False
        try:
            await self.job.start(kind, year, language)
            await self.job.follow()
        finally:
            for button in (self.report_button, self.video_button):
                button.enabled = True

    def render(self, request: ContentRequest) -> None:
        t = self.app.t
        self.progress.value = request.progress
        self.state.text = t(
            "content.state",
            kind=t(f"content.kind.{request.type}"),
            year=int(self.year.value or 0),
            status=t(f"content.status.{request.status}"),
            progress=request.progress,
        )
        if request.error:
            self.state.text += f" — {request.error}"
        self.open_button.enabled = request.status == "succeeded"

    def open_result(self, widget: toga.Widget | None = None) -> None:
        self.app.spawn(self._open())

    async def _open(self) -> None:
        assert self.job is not None
        download = await self.job.result()
        self.app.opener(download.url)  # a short-lived signed link; the system opens it
