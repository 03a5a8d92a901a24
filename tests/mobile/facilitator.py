"""A dojo facilitator for the mobile tests: what a colleague does in the web app, done with
the dojo service's HTTP API (``/api/dojos``) — create and start dojos, make invite links,
remove someone — and a writer in the room with a ticket the service issues.
"""

from __future__ import annotations

from typing import Any

from mrbill_mobile.api import ApiClient

from tests.harness.ywire import YClient


class Facilitator:
    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.writers: list[YClient] = []

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        return await self.client.json(method, "dojos", path, **kwargs)

    async def create(self, name: str, *, start: bool = False, **fields: Any) -> dict[str, Any]:
        """A dojo (scheduled until started); ``start`` makes it live with us driving."""
        body = {"name": name, "language": "Python", **fields}
        dojo: dict[str, Any] = await self.call("POST", "/dojos", json=body)
        if start:
            dojo = await self.call("POST", f"/dojos/{dojo['dojo_id']}/start")
            assert dojo["status"] == "active"
        return dojo

    async def invite(self, dojo_id: str, role: str = "observer") -> dict[str, Any]:
        """An invite: ``code`` and the link (``url``) to share."""
        invite: dict[str, Any] = await self.call(
            "POST", f"/dojos/{dojo_id}/invites", json={"role": role}
        )
        return invite

    async def end(self, dojo_id: str) -> dict[str, Any]:
        dojo: dict[str, Any] = await self.call("POST", f"/dojos/{dojo_id}/end")
        return dojo

    async def remove(self, dojo_id: str, user_id: str) -> None:
        await self.client.call("DELETE", "dojos", f"/dojos/{dojo_id}/participants/{user_id}")

    async def writer(self, dojo_id: str) -> YClient:
        """A Yjs peer in the dojo's room with our ticket from the service (we drive: write)."""
        ticket = await self.call("POST", f"/dojos/{dojo_id}/tickets")
        assert ticket["role"] == "write", ticket
        client = YClient(f"{ticket['url']}?ticket={ticket['ticket']}")
        self.writers.append(client)
        await client.connect()
        return client

    async def aclose(self) -> None:
        for writer in self.writers:
            await writer.close()
