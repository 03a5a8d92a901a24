"""The Toga app: one window, a navigation bar, an offline/error banner, and the screens.

Every action runs through `MrBillApp.spawn`, which tracks the task and maps its failure in one
place: offline -> banner (the screen keeps what it shows), session over -> log-in screen,
any other API problem -> banner with the API's message.
"""

from __future__ import annotations

import asyncio
import logging
import webbrowser
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import toga
from toga.style import Pack

from .api import (
    ApiClient,
    ApiError,
    AuthRequired,
    ContentApi,
    DojoSource,
    HttpDojoSource,
    IdentityApi,
    Me,
    Offline,
    PocsApi,
    SearchApi,
)
from .config import AppConfig
from .i18n import Translator, detect_language, problem_text
from .screens.ui import hideable, set_shown, wrap
from .tokens import TokenStore, default_store

_log = logging.getLogger(__name__)
BANNER_OFFLINE = "#b45309"
BANNER_ERROR = "#b91c1c"
RESUME_FIRST_WAIT, RESUME_MAX_WAIT = 1.0, 30.0  # seconds between tries of a stored session


class MrBillApp(toga.App):
    def __init__(
        self,
        config: AppConfig | None = None,
        *,
        client: ApiClient | None = None,
        tokens: TokenStore | None = None,
        dojos: DojoSource | None = None,
        opener: Callable[[str], Any] = webbrowser.open,
        resume: bool = True,
    ) -> None:
        self.config = config or AppConfig()
        self.t = Translator(detect_language(self.config.language))
        self._client, self._tokens, self._dojos = client, tokens, dojos
        self.opener = opener
        self._resume = resume
        self.tasks: set[asyncio.Task[Any]] = set()
        self.me: Me | None = None
        super().__init__(formal_name="Mr Bill", app_id="dev.mrbill.mobile")

    # -- start-up ---------------------------------------------------------------------------

    def startup(self) -> None:
        data_dir = self.config.data_dir or Path(self.paths.data)
        account = self.config.api_url
        self.client = self._client or ApiClient(
            self.config.api_url,
            tokens=self._tokens or default_store(data_dir, account),
            language=self.t.language,
        )
        self.client.on_connectivity(self._connectivity)
        self.identity = IdentityApi(self.client)
        self.search = SearchApi(self.client)
        self.pocs = PocsApi(self.client)
        self.content = ContentApi(self.client)
        self.dojo_source: DojoSource = self._dojos or HttpDojoSource(self.client)

        from .screens.content import ContentScreen
        from .screens.dojos import DojoScreen
        from .screens.login import LoginScreen
        from .screens.poc_form import PocFormScreen
        from .screens.pocs import PocListScreen

        self.banner = toga.Label("", style=Pack(margin=8, color="white"))
        self.banner_message = ""  # what the banner says, unwrapped
        self.nav = toga.Box(style=Pack(direction="row", margin=4, gap=4))
        for key, action in (
            ("nav.pocs", self.show_pocs),
            ("nav.content", self.show_content),
            ("nav.dojos", self.show_dojos),
            ("nav.logout", self.logout),
        ):
            button = toga.Button(self.t(key), on_press=lambda w, a=action: a(), id=key)
            button.style.flex = 1
            self.nav.add(button)
        self.body = toga.Box(style=Pack(direction="column", flex=1))
        self.login_screen = LoginScreen(self)
        self.list_screen = PocListScreen(self)
        self.form_screen = PocFormScreen(self)
        self.content_screen = ContentScreen(self)
        self.dojo_screen = DojoScreen(self)
        self.window = toga.MainWindow(title=self.formal_name, size=(420, 780))
        self.main_window = self.window
        self.window.content = toga.Box(
            children=[hideable(self.nav), hideable(self.banner), self.body],
            style=Pack(direction="column"),
        )
        self.show(self.login_screen.box)
        if self._resume and self.client.has_session:
            self.spawn(self._resume_session())
        self.window.show()

    async def _resume_session(self) -> None:
        """A stored session becomes a session again; launched offline, it is tried again
        (the banner says offline meanwhile) until the API answers or the person logs in
        with their password, rather than asking for it because the network was away."""
        wait = RESUME_FIRST_WAIT
        while True:
            try:
                me = await self.identity.resume()
            except Offline:
                await asyncio.sleep(wait)
                wait = min(wait * 2, RESUME_MAX_WAIT)
                if self.me is not None or not self.client.has_session:
                    return  # logged in (or out) meanwhile
                continue
            break
        if me is not None and self.me is None:
            await self.signed_in(me)

    # -- navigation -------------------------------------------------------------------------

    def show(self, box: toga.Box) -> None:
        # A red message was about what was done on the screen being left; the offline one
        # stays until the API answers again.
        if self.banner_message and self.banner_message != self.t("offline"):
            self.set_banner(None)
        self.body.clear()
        self.body.add(box)
        set_shown(self.nav, box is not self.login_screen.box)

    async def signed_in(self, me: Me | None = None) -> None:
        self.me = me or await self.identity.me()
        self.window.title = f"Mr Bill · {self.me.tenant_name}"
        self.show_pocs()
        await self.list_screen.model.refresh()

    def show_pocs(self) -> None:
        self.show(self.list_screen.box)
        if not self.list_screen.model.state.loaded:
            self.spawn(self.list_screen.model.refresh())

    def show_form(self, poc_id: str | None = None) -> None:
        self.show(self.form_screen.box)
        self.spawn(self.form_screen.open(poc_id))

    def show_content(self) -> None:
        self.show(self.content_screen.box)

    def show_dojos(self) -> None:
        self.show(self.dojo_screen.box)
        self.spawn(self.dojo_screen.reload())

    def logout(self) -> None:
        self.spawn(self._logout())

    async def _logout(self) -> None:
        # What this session still has running (a search, a report being followed) would
        # find no session and say "your session ended"; and nothing of it is for whoever
        # logs in next.
        current = asyncio.current_task()
        for task in list(self.tasks):
            if task is not current:
                task.cancel()
        await self.dojo_screen.stop()
        try:
            await self.identity.logout()
        except (Offline, ApiError) as exc:  # the local session ends either way
            _log.warning("logout could not reach the server: %s", exc)
        self.me = None
        self.list_screen.reset()
        self.content_screen.reset()
        self.set_banner(None)
        self.show(self.login_screen.box)

    # -- tasks and errors -------------------------------------------------------------------

    def spawn(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run an action in the background; its errors land in `report`."""
        task = asyncio.ensure_future(self._guard(work))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _guard(self, work: Awaitable[Any]) -> Any:
        try:
            return await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.report(exc)
            return None

    def report(self, exc: BaseException) -> None:
        if isinstance(exc, Offline):
            self._connectivity(False)
        elif isinstance(exc, AuthRequired):
            self.me = None
            self.show(self.login_screen.box)
            self.login_screen.say(self.t("error.session"))
        elif isinstance(exc, ApiError):
            message = problem_text(self.t, exc.message, exc.retry_after)
            self.set_banner(self.t("error.generic", message=message), BANNER_ERROR)
        else:
            _log.exception("unexpected error", exc_info=exc)
            self.set_banner(self.t("error.generic", message=str(exc) or type(exc).__name__))

    async def settle(self, within: float = 30.0) -> None:
        """Wait until no action is running (tests, screenshots)."""
        async with asyncio.timeout(within):
            while self.tasks:
                await asyncio.gather(*list(self.tasks), return_exceptions=True)

    def set_banner(self, text: str | None, color: str = BANNER_ERROR) -> None:
        # Wrapped to a phone's width: a label does not wrap, and a long message would
        # widen the whole window past the screen.
        self.banner_message = text or ""
        self.banner.text = wrap(text)
        self.banner.style.background_color = color
        set_shown(self.banner, bool(text))

    def _connectivity(self, online: bool) -> None:
        if online:
            if self.banner_message == self.t("offline"):
                self.set_banner(None)
        else:
            self.set_banner(self.t("offline"), BANNER_OFFLINE)

    def on_exit(self) -> bool:
        self.spawn(self.client.aclose())
        return True


def main(argv: Sequence[str] | None = None) -> MrBillApp:
    return MrBillApp(AppConfig.from_args(argv))
