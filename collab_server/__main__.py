"""Run one collab node: ``python -m collab_server [--port N]`` (settings from COLLAB_* variables)."""

from __future__ import annotations

import argparse

import uvloop
from aiohttp import web

from .app import create_app
from .settings import CollabSettings


def main() -> None:
    parser = argparse.ArgumentParser(prog="collab_server", description=__doc__)
    parser.add_argument("--host", help="overrides COLLAB_HOST")
    parser.add_argument("--port", type=int, help="overrides COLLAB_PORT")
    parser.add_argument("--node-name", help="overrides COLLAB_NODE_NAME")
    args = parser.parse_args()
    overrides = {
        key: value
        for key, value in (("host", args.host), ("port", args.port), ("node_name", args.node_name))
        if value is not None
    }
    settings = CollabSettings(**overrides)
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
