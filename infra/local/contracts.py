"""The OpenAPI documents of every service, as committed in ``contracts/``."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml

from .services import SERVICES

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def render(service_name: str) -> str:
    service = next(s for s in SERVICES if s.name == service_name)
    module, factory = service.app.split(":")
    app = getattr(importlib.import_module(module), factory)()
    return yaml.safe_dump(app.openapi(), sort_keys=False, allow_unicode=True)


def write_all() -> list[Path]:
    CONTRACTS.mkdir(exist_ok=True)
    paths = []
    for service in SERVICES:
        path = CONTRACTS / f"openapi-{service.name}.yaml"
        path.write_text(render(service.name))
        paths.append(path)
    return paths
