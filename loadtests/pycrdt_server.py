"""pycrdt-websocket's reference server: its `WebsocketServer` behind its `ASGIServer`, on uvicorn.

    python -m loadtests.pycrdt_server --port 1234 [--host 127.0.0.1] [--ws websockets-sansio]

The room is the request path (with its leading "/"); the query string is ignored. Rooms are
in memory and dropped when their last client leaves (`auto_clean_rooms`, the default).

pycrdt-websocket 0.16.5 hangs the second of two clients that join a new room at the same
moment: both see the room not yet started and call `YRoom.start`, whose lock the first one
holds for the room's whole life, so the second never gets SyncStep1. We serialize room
starts (`--stock` serves the package as it is, to reproduce the bug).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import warnings

import uvicorn
from anyio import Lock
from pycrdt.websocket import ASGIServer, WebsocketServer, YRoom, exception_logger


class SerializedRoomStartServer(WebsocketServer):
    """WebsocketServer that starts one room at a time (see the module docstring)."""

    _room_start_lock: Lock | None = None

    async def start_room(self, room: YRoom) -> None:
        if self._room_start_lock is None:
            self._room_start_lock = Lock()
        async with self._room_start_lock:
            await super().start_room(room)


async def serve(host: str, port: int, ws: str, *, stock: bool = False) -> None:
    """Serve until cancelled (uvicorn handles SIGINT/SIGTERM)."""
    server_class = WebsocketServer if stock else SerializedRoomStartServer
    websocket_server = server_class(exception_handler=exception_logger)
    app = ASGIServer(websocket_server)
    config = uvicorn.Config(
        app, host=host, port=port, ws=ws, lifespan="off", log_level="warning", access_log=False
    )
    async with websocket_server:
        await uvicorn.Server(config).serve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1234)
    parser.add_argument("--ws", default="websockets-sansio", help="uvicorn's WebSocket protocol")
    parser.add_argument("--stock", action="store_true", help="without the room-start fix")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    warnings.simplefilter("ignore", DeprecationWarning)  # uvicorn's legacy websockets adapter
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.host, args.port, args.ws, stock=args.stock))
    else:
        uvloop.run(serve(args.host, args.port, args.ws, stock=args.stock))


if __name__ == "__main__":
    main()
