"""The dojo service: live coding dojos on top of the collaboration engine."""

from .app import build_context, create_app
from .settings import DojosSettings

__all__ = ["DojosSettings", "build_context", "create_app"]
