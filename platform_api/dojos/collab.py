"""The collab engine as this service sees it: a port, its HTTP adapter and an in-memory one.

The HTTP adapter calls a node's internal API with a ``service`` ticket (any node serves any
room). The in-memory adapter keeps documents in this process: for tests and for running
the service without collab nodes; it records control commands instead of applying them.
"""

from __future__ import annotations

import base64
from typing import Any, Protocol

import httpx
from pycrdt import Doc

from platform_api.kernel import Problem, outgoing_headers

from .tickets import TicketSigner

_BYTES = "application/octet-stream"
FORGET_TIMEOUT_SECONDS = 120.0


class Collab(Protocol):
    async def state(self, room: str) -> bytes:
        """The room's whole document as one Yjs update."""
        ...

    async def apply(self, room: str, update: bytes) -> None:
        """Apply a server-originated update; every peer receives it."""
        ...

    async def control(self, room: str, command: dict[str, str]) -> None:
        """Change live connections: ``{"type": "role", "user", "role"}`` or ``revoke``."""
        ...

    async def forget_history(self, room: str) -> None:
        """Have the engine compact the room's stored state now and drop its earlier
        snapshots: what the document deleted (a renamed member's old name) leaves it."""
        ...

    async def aclose(self) -> None: ...


def unavailable(exc: Exception | None = None) -> Problem:
    return Problem(503, "The collaboration engine is unavailable; try again shortly")


class HttpCollab:
    def __init__(self, base_url: str, signer: TicketSigner, *, timeout: float = 5.0) -> None:
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout)
        self._signer = signer

    def _headers(self, room: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        auth = {"Authorization": f"Bearer {self._signer.service_ticket(room)}"}
        return outgoing_headers({**auth, **(extra or {})})

    async def _call(self, method: str, room: str, what: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._client.request(
                method,
                f"/internal/rooms/{room}/{what}",
                headers=self._headers(room, kwargs.pop("headers", None)),
                **kwargs,
            )
        except httpx.HTTPError as exc:
            raise unavailable(exc) from exc
        if response.status_code == 413:
            raise Problem(413, "The dojo's document is too large")
        if response.status_code >= 400:
            raise unavailable()
        return response

    async def state(self, room: str) -> bytes:
        # The raw update: its JSON (base64, with the text) costs the node's loop, which all
        # its rooms share, several times the encoding of the update.
        response = await self._call("GET", room, "state", headers={"Accept": _BYTES})
        if response.headers.get("Content-Type", "").startswith(_BYTES):
            return response.content
        return base64.b64decode(response.json()["update"])  # a node that answers only JSON

    async def apply(self, room: str, update: bytes) -> None:
        await self._call(
            "POST",
            room,
            "updates",
            content=update,
            headers={"Content-Type": "application/octet-stream"},
        )

    async def control(self, room: str, command: dict[str, str]) -> None:
        await self._call("POST", room, "control", json=command)

    async def forget_history(self, room: str) -> None:
        # A compaction of a large room, after one under way: longer than a read or write.
        await self._call("POST", room, "forget-history", timeout=FORGET_TIMEOUT_SECONDS)

    async def aclose(self) -> None:
        await self._client.aclose()


class MemoryCollab:
    """Rooms in this process (tests, development without nodes). Not shared across processes."""

    def __init__(self) -> None:
        self.docs: dict[str, Doc[Any]] = {}
        self.controls: list[tuple[str, dict[str, str]]] = []

    def _doc(self, room: str) -> Doc[Any]:
        return self.docs.setdefault(room, Doc())

    async def state(self, room: str) -> bytes:
        return self._doc(room).get_update()

    async def apply(self, room: str, update: bytes) -> None:
        self._doc(room).apply_update(update)

    async def control(self, room: str, command: dict[str, str]) -> None:
        self.controls.append((room, command))

    async def forget_history(self, room: str) -> None:
        """Nothing is stored here but the document, which drops what it deletes."""

    async def aclose(self) -> None:
        return None
