"""The collab server: aiohttp WebSocket nodes around ``rooms`` (tickets, limits, health)."""

from .app import create_app
from .settings import CollabSettings

__all__ = ["CollabSettings", "create_app"]
