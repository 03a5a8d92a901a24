"""Reference y-websocket servers (y-websocket's Node server, pycrdt-websocket) on free ports.

Our own room server plugs into the same tests by yielding its base URL and the query
parameters a client needs (a room ticket), see `ServerUnderTest`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from loadtests.servers import builtin_servers, start_server
from tests.harness.yjs_client import require_node


@dataclass(frozen=True)
class ServerUnderTest:
    """A running y-websocket server: clients connect to `url` + "/" + room + "?" + params."""

    name: str
    url: str
    params_for: Callable[[str], dict[str, str]] = field(default=lambda room: {})
    pid: int | None = None
    # Our server wants "<tenant>:<name>": pass e.g. `TicketMinter.room`.
    full_room: Callable[[str], str] = field(default=lambda name: name)

    def room(self, prefix: str = "room") -> str:
        """A fresh room, so that tests never share a document."""
        return self.full_room(f"{prefix}-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="session", params=["node", "pycrdt"])
def reference_server(request: pytest.FixtureRequest) -> Iterator[ServerUnderTest]:
    require_node()
    spec = builtin_servers()[request.param]
    with start_server(spec) as server:
        # Reference servers ignore the query string; sending a ticket anyway exercises the
        # path our server needs (y-websocket appends params after the room).
        yield ServerUnderTest(
            spec.name, server.url, lambda room: {"ticket": f"unchecked {room}"}, server.process.pid
        )
