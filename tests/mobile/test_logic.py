"""The screens' logic against the real services, without any UI."""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from mrbill_mobile.api import (
    ApiClient,
    ApiError,
    ContentApi,
    HttpDojoSource,
    IdentityApi,
    Offline,
    Poc,
    PocsApi,
    SearchApi,
    Ticket,
)
from mrbill_mobile.logic.content import ContentJob
from mrbill_mobile.logic.dojos import NeedsInvite, load_dojos, observer_ticket
from mrbill_mobile.logic.poc_form import PocForm, parse_tags
from mrbill_mobile.logic.poc_list import PocList
from mrbill_mobile.observer import DojoObserver
from mrbill_mobile.tokens import MemoryTokenStore

from tests.harness.collab import Mint
from tests.harness.ywire import eventually
from tests.mobile.facilitator import Facilitator
from tests.mobile.stack import Stack

SEED = [
    ("Python event sourcing", "python", ["events", "kafka"]),
    ("Kafka consumer lag monitor", "go", ["kafka", "observability"]),
    ("Rust web server", "rust", ["http"]),
    ("Python OCR pipeline", "python", ["ml"]),
    ("TypeScript design system", "typescript", ["ui"]),
]


async def seed(client: ApiClient) -> None:
    pocs = PocsApi(client)
    for name, language, tags in SEED:
        await pocs.create({"name": name, "language": language, "tags": tags})
    search = SearchApi(client)

    async def indexed() -> bool:
        return (await search.search()).total == len(SEED)

    await eventually(indexed, timeout=20, what="the search index to catch up")


def test_parse_tags() -> None:
    assert parse_tags("Python, fastapi  #async python,,") == ["python", "fastapi", "async"]


async def test_list_search_filters_and_pages(signed_in: ApiClient) -> None:
    await seed(signed_in)
    model = PocList(SearchApi(signed_in), page_size=2, debounce=0.01)
    await model.refresh()
    state = model.state
    assert state.total == 5
    assert len(state.items) == 2
    assert state.has_more
    # The POC service canonicalises language names; the facets carry them as shown.
    assert {f.value: f.count for f in state.languages}["Python"] == 2
    assert {f.value for f in state.tags} >= {"kafka", "ml", "ui"}
    while state.has_more:
        await model.load_more()
    assert sorted(p.name for p in state.items) == sorted(name for name, _, _ in SEED)

    await model.type_query("pyhton")  # a typo
    assert {p.name for p in state.items} == {"Python event sourcing", "Python OCR pipeline"}

    await model.type_query("")
    await model.set_filters(language=None, tag="kafka")
    assert {p.name for p in state.items} == {"Python event sourcing", "Kafka consumer lag monitor"}
    await model.set_filters(language="Go", tag="kafka")
    assert [p.name for p in state.items] == ["Kafka consumer lag monitor"]


async def test_typing_fast_searches_once(signed_in: ApiClient) -> None:
    calls: list[str] = []
    search = SearchApi(signed_in)
    real = search.search

    async def counted(q: str = "", **kw: object) -> object:
        calls.append(q)
        return await real(q, **kw)  # type: ignore[arg-type]

    search.search = counted  # type: ignore[method-assign]
    model = PocList(search, debounce=0.05)
    tasks = [model.type_query(text) for text in ("r", "ru", "rus", "rust")]
    await asyncio.gather(*tasks, return_exceptions=True)
    assert calls == ["rust"]


async def test_offline_keeps_the_last_list(signed_in: ApiClient, stack: Stack) -> None:
    await PocsApi(signed_in).create({"name": "Offline first"})
    model = PocList(SearchApi(signed_in))
    await eventually(lambda: _refreshed(model, 1), timeout=20, what="the first POC")
    signed_in.base_url = "http://127.0.0.1:9"
    await model.refresh()
    assert model.state.offline
    assert [p.name for p in model.state.items] == ["Offline first"]
    signed_in.base_url = stack.base_url
    await model.refresh()
    assert not model.state.offline


async def _refreshed(model: PocList, count: int) -> bool:
    await model.refresh()
    return len(model.state.items) == count


async def test_form_create_validate_edit_and_conflict(signed_in: ApiClient) -> None:
    pocs = PocsApi(signed_in)
    form = PocForm(name="  ", tags="a", repository_url="nope")
    assert await form.save(pocs) is None
    assert set(form.errors) == {"name", "repository_url"}
    assert form.message is None  # the fields say it all

    form.name, form.repository_url, form.tags = "Edge cache", "https://example.com/x", "CDN, edge"
    created = await form.save(pocs)
    assert created is not None
    assert created.tags == ("cdn", "edge")

    stale = PocForm.for_poc(created)
    form.language = "go"
    updated = await form.save(pocs)
    assert updated is not None
    assert updated.language == "Go"
    assert updated.version > created.version

    # Edited meanwhile elsewhere: the POC is read again, this form's change kept on top.
    stale.name = "Someone else's edit"
    assert await stale.save(pocs) is None
    assert stale.conflict
    assert stale.message is None
    assert stale.editing is not None
    assert stale.editing.version == updated.version
    assert (stale.name, stale.language) == ("Someone else's edit", "Go")
    assert stale.changes() == {"name": "Someone else's edit"}
    merged = await stale.save(pocs)
    assert merged is not None
    assert not stale.conflict
    assert (merged.name, merged.language) == ("Someone else's edit", "Go")

    await pocs.delete(merged)
    with pytest.raises(ApiError) as gone:
        await pocs.get(updated.poc_id)
    assert gone.value.status == 404


class _FirstAnswerLost(PocsApi):
    """The API makes the first POC, and its answer never arrives (the network dropped it)."""

    lost = False

    async def create(self, fields: dict[str, Any], *, idempotency_key: str | None = None) -> Poc:
        poc = await super().create(fields, idempotency_key=idempotency_key)
        if not self.lost:
            self.lost = True
            raise Offline("the answer was lost on the way")
        return poc


async def test_saving_again_after_a_lost_answer_makes_one_poc(signed_in: ApiClient) -> None:
    name = f"Saved once {uuid.uuid4().hex[:6]}"
    pocs = _FirstAnswerLost(signed_in)
    form = PocForm(name=name, tags="retry")
    with pytest.raises(Offline):
        await form.save(pocs)
    saved = await form.save(pocs)  # the user taps Save again
    assert saved is not None

    async def named(wanted: str) -> list[str]:
        page = await signed_in.json("GET", "pocs", "/pocs", params={"q": wanted, "limit": 100})
        return [item["poc_id"] for item in page["items"] if item["name"] == wanted]

    assert await named(name) == [saved.poc_id]
    # A form changed before saving again is another POC, made as asked.
    other = PocForm(name=f"{name} bis")
    other_api = _FirstAnswerLost(signed_in)
    with pytest.raises(Offline):
        await other.save(other_api)
    other.name = f"{name} ter"
    assert await other.save(other_api) is not None
    assert len(await named(f"{name} bis")) == 1
    assert len(await named(f"{name} ter")) == 1


async def test_report_progress_and_download(signed_in: ApiClient) -> None:
    await PocsApi(signed_in).create({"name": "Reported POC", "language": "python"})
    seen: list[str] = []
    job = ContentJob(ContentApi(signed_in), lambda r: seen.append(r.status), poll_seconds=0.2)
    year = __import__("datetime").date.today().year
    await job.start("report", year, "pt-BR")
    done = await job.follow(within=60)
    assert done.status == "succeeded"
    assert done.progress == 100
    assert seen[-1] == "succeeded"
    download = await job.result()
    async with httpx.AsyncClient() as http:
        pdf = await http.get(download.url)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")


async def test_observe_a_dojo_read_only(signed_in: ApiClient, facilitator: Facilitator) -> None:
    """A colleague runs a dojo; the app lists it, joins with the observer link it was sent,
    and shows the code as the colleague types it."""
    live = await facilitator.create("Kata: bowling", start=True)
    await facilitator.create("Kata: roman numerals", scheduled_start_time="2031-01-01T10:00:00Z")
    source = HttpDojoSource(signed_in)
    lists = await load_dojos(source)
    assert [d.name for d in lists.live] == ["Kata: bowling"]
    assert [d.name for d in lists.upcoming] == ["Kata: roman numerals"]
    assert lists.upcoming[0].scheduled_start_time == "2031-01-01T10:00:00Z"
    assert lists.live[0].participant_count == 1

    with pytest.raises(NeedsInvite):
        await observer_ticket(source, live["dojo_id"])
    link = (await facilitator.invite(live["dojo_id"]))["url"]
    assert "/dojos/join#" in link
    ticket = await observer_ticket(source, live["dojo_id"], link)
    assert ticket.role == "read"
    assert ticket.url.endswith("/" + live["room"])
    assert (await load_dojos(source)).live[0].participant_count == 2
    people = await facilitator.call("GET", f"/dojos/{live['dojo_id']}/participants")
    assert sorted((p["display_name"], p["role"], p["can_write"]) for p in people["items"]) == [
        ("Fatima Facilitator", "driver", True),
        ("Mobile Tester", "observer", False),
    ]

    writer = await facilitator.writer(live["dojo_id"])
    await writer.insert("def score(rolls):\n")
    codes: list[str] = []
    observer = await DojoObserver(ticket, codes.append).start()
    try:
        await eventually(lambda: observer.code == "def score(rolls):\n", what="the first sync")
        await writer.insert("    return sum(rolls)\n")
        await eventually(lambda: observer.code.endswith("sum(rolls)\n"), what="a live edit")
        assert codes[-1] == observer.code
        assert observer.connected
    finally:
        await observer.close()
    assert str(writer) == "def score(rolls):\n    return sum(rolls)\n"


async def test_observer_reports_when_its_ticket_expires(
    signed_in: ApiClient, facilitator: Facilitator, mint: Mint, stack: Stack
) -> None:
    """An expired ticket on a live connection: the room closes it with 4401, and says so.

    The service's tickets live ``DOJOS_TICKET_TTL_SECONDS`` (5 s at the least) and the app
    renews them; to see expiry within the test, this read ticket for a live dojo's room is
    signed with the service's own ticket key, for 2 seconds, and never renewed.
    """
    me = await IdentityApi(signed_in).me()
    dojo = await facilitator.create("Kata: expiring", start=True)
    token = mint(dojo["room"], role="read", user=me.user_id, ttl=2)
    ticket = Ticket(token, f"{stack.collab_url}/{dojo['room']}", "read", expires_in=2)
    closed: list[int | None] = []
    observer = await DojoObserver(ticket, lambda code: None, on_closed=closed.append).start()
    try:
        await eventually(lambda: bool(closed), timeout=15, what="the room to close")
    finally:
        await observer.close()
    assert closed == [4401]
    assert not observer.connected


async def test_observer_reports_when_removed_from_the_dojo(
    signed_in: ApiClient, facilitator: Facilitator
) -> None:
    """The facilitator removes the observer: the room drops the connection at once (4403),
    the observer says so, and the service gives no new ticket."""
    me = await IdentityApi(signed_in).me()
    dojo = await facilitator.create("Kata: removal", start=True)
    source = HttpDojoSource(signed_in)
    code = (await facilitator.invite(dojo["dojo_id"]))["code"]
    ticket = await observer_ticket(source, dojo["dojo_id"], code)
    closed: list[int | None] = []
    observer = DojoObserver(
        ticket, lambda code: None, on_closed=closed.append,
        renew=lambda: source.ticket(dojo["dojo_id"]),
    )  # fmt: skip
    await observer.start()
    try:
        await asyncio.wait_for(observer.synced.wait(), timeout=10)
        await facilitator.remove(dojo["dojo_id"], me.user_id)
        await eventually(lambda: bool(closed), timeout=10, what="the room to close")
        # Nothing goes on asking for tickets for a connection that is gone.
        await eventually(lambda: all(t.done() for t in observer._tasks), what="renewal to stop")
    finally:
        await observer.close()
    assert closed == [4403]
    with pytest.raises(ApiError) as refused:
        await source.ticket(dojo["dojo_id"])
    assert refused.value.status == 403


class Gateway(httpx.AsyncBaseTransport):
    """The entry point (load balancer, nginx) in front of the real services: while ``down``,
    it answers 502 Bad Gateway with its own HTML page, as when a service restarts."""

    def __init__(self) -> None:
        self.down = False
        self.refused = 0
        self._real = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            self.refused += 1
            return httpx.Response(502, html="<html><h1>502 Bad Gateway</h1></html>")
        return await self._real.handle_async_request(request)

    async def aclose(self) -> None:
        await self._real.aclose()


async def test_a_service_away_behind_the_gateway_is_offline_for_a_while(
    signed_in: ApiClient, new_client: Callable[..., ApiClient]
) -> None:
    """502/503/504 from the entry point: the list keeps what it shows, a report being made
    keeps being followed and shows up when the service is back, and the app is offline (its
    banner) meanwhile, not failed."""
    await PocsApi(signed_in).create({"name": "Survives outages", "language": "python"})
    gateway = Gateway()
    tokens = MemoryTokenStore()
    tokens.save(signed_in.tokens.load() or "")
    client = new_client(transport=gateway, tokens=tokens)
    seen: list[bool] = []
    client.on_connectivity(seen.append)
    model = PocList(SearchApi(client))
    await eventually(lambda: _refreshed(model, 1), timeout=20, what="the first POC")

    gateway.down = True
    await model.refresh()
    assert model.state.offline
    assert model.state.error is None
    assert [p.name for p in model.state.items] == ["Survives outages"]
    assert seen == [False]

    gateway.down = False
    job = ContentJob(ContentApi(client), poll_seconds=0.2)
    await job.start("report", datetime.date.today().year, "en")
    gateway.down = True
    following = asyncio.ensure_future(job.follow(within=60))
    await eventually(lambda: gateway.refused >= 3, what="polls to hit the gateway")
    assert not following.done()
    gateway.down = False
    done = await following
    assert done.status == "succeeded"
    assert seen == [False, True, False, True]
