"""Run one collab node: ``python -m collab_server`` (settings from COLLAB_* variables)."""

from __future__ import annotations

import uvloop
from aiohttp import web

from .app import create_app
from .settings import CollabSettings


def main() -> None:
    settings = CollabSettings()
    uvloop.install()
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        shutdown_timeout=settings.drain_seconds + 5,
        access_log=None,
        print=None,
    )


if __name__ == "__main__":
    main()
