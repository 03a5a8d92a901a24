"""The POC list: search as you type, language and tag filters from the search facets,
cursor pagination, refresh, and the last loaded list kept when the API is unreachable."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from ..api import ApiError, AuthRequired, Facet, Offline, Poc, SearchApi

DEBOUNCE_SECONDS = 0.3


@dataclass
class ListState:
    query: str = ""
    language: str | None = None
    tag: str | None = None
    items: list[Poc] = field(default_factory=list)
    total: int = 0
    languages: list[Facet] = field(default_factory=list)
    tags: list[Facet] = field(default_factory=list)
    next_cursor: str | None = None
    loading: bool = False
    offline: bool = False
    error: str | None = None
    loaded: bool = False

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


class PocList:
    """Holds the list state; every change calls ``on_change`` so a screen can redraw."""

    def __init__(
        self,
        search: SearchApi,
        on_change: Callable[[ListState], None] = lambda state: None,
        *,
        page_size: int = 20,
        debounce: float = DEBOUNCE_SECONDS,
    ) -> None:
        self.api = search
        self.state = ListState()
        self.on_change = on_change
        self.page_size = page_size
        self.debounce = debounce
        self._generation = 0  # answers to an older query are dropped
        self._pending: asyncio.Task[None] | None = None

    def _changed(self) -> None:
        self.on_change(self.state)

    async def refresh(self) -> None:
        """Load the first page for the current query and filters."""
        await self._load(reset=True)

    async def load_more(self) -> None:
        """The next page (infinite scroll); nothing when there is none or a load is running."""
        if self.state.has_more and not self.state.loading:
            await self._load(reset=False)

    def type_query(self, text: str) -> asyncio.Task[None]:
        """Search as you type: wait ``debounce`` seconds of quiet, then search."""
        self.state.query = text
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()
        self._pending = asyncio.ensure_future(self._after_quiet())
        return self._pending

    async def _after_quiet(self) -> None:
        await asyncio.sleep(self.debounce)
        await self.refresh()

    async def set_filters(self, *, language: str | None, tag: str | None) -> None:
        self.state.language, self.state.tag = language or None, tag or None
        await self.refresh()

    def upsert(self, poc: Poc) -> None:
        """Show a POC just saved at once (the search index catches up a moment later)."""
        items = [p for p in self.state.items if p.poc_id != poc.poc_id]
        self.state.items = [poc, *items]
        self._changed()

    def remove(self, poc_id: str) -> None:
        self.state.items = [p for p in self.state.items if p.poc_id != poc_id]
        self._changed()

    async def _load(self, *, reset: bool) -> None:
        self._generation += 1
        generation = self._generation
        state = self.state
        state.loading, state.error = True, None
        self._changed()
        try:
            page = await self.api.search(
                state.query,
                languages=[state.language] if state.language else [],
                tags=[state.tag] if state.tag else [],
                cursor=None if reset else state.next_cursor,
                limit=self.page_size,
            )
        except Offline:
            if generation == self._generation:
                state.offline = True  # keep the last loaded list on screen
        except AuthRequired:
            raise
        except ApiError as exc:
            if generation == self._generation:
                # A refused search (a query longer than the API takes, say) says why.
                state.offline, state.error = False, exc.field_errors.get("q", exc.message)
        else:
            if generation == self._generation:
                state.items = list(page.items) if reset else [*state.items, *page.items]
                state.total, state.next_cursor = page.total, page.next_cursor
                state.languages, state.tags = list(page.languages), list(page.tags)
                state.offline, state.loaded = False, True
        finally:
            if generation == self._generation:
                state.loading = False
                self._changed()
