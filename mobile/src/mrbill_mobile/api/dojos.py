"""The dojo service, behind a small interface (`DojoSource`): the dojo screen only needs to
list dojos, join one with an invite code and get a room ticket.

`HttpDojoSource` follows the routes of the dojo service (``/api/dojos/dojos``,
``/dojos/{id}``, ``/dojos/join``, ``/dojos/{id}/tickets``).
"""

from __future__ import annotations

from typing import Protocol

from .client import ApiClient
from .models import Dojo, Ticket


class DojoSource(Protocol):
    async def list(self, status: str) -> list[Dojo]:
        """Dojos of the organization with this status (``scheduled`` or ``active``)."""
        ...

    async def get(self, dojo_id: str) -> Dojo:
        """One dojo as the service holds it now (its status: has it ended?)."""
        ...

    async def join(self, code: str) -> str:
        """Join with an invite code; return the dojo id."""
        ...

    async def ticket(self, dojo_id: str) -> Ticket:
        """A room ticket: ``read`` for observers. 403 until you have joined."""
        ...


class HttpDojoSource:
    def __init__(self, client: ApiClient) -> None:
        self.client = client

    async def list(self, status: str) -> list[Dojo]:
        data = await self.client.json(
            "GET", "dojos", "/dojos", params={"status": status, "limit": 50}
        )
        return [Dojo.from_json(item) for item in data["items"]]

    async def get(self, dojo_id: str) -> Dojo:
        return Dojo.from_json(await self.client.json("GET", "dojos", f"/dojos/{dojo_id}"))

    async def join(self, code: str) -> str:
        data = await self.client.json("POST", "dojos", "/dojos/join", json={"code": code})
        return str(data["dojo_id"])

    async def ticket(self, dojo_id: str) -> Ticket:
        return Ticket.from_json(
            await self.client.json("POST", "dojos", f"/dojos/{dojo_id}/tickets")
        )
