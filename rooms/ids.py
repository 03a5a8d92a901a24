"""Room identity: a room belongs to one tenant; its wire name is ``<tenant-uuid>:<name>``."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # whole names only: fullmatch


@dataclass(frozen=True, slots=True)
class RoomId:
    tenant: uuid.UUID
    name: str

    @property
    def key(self) -> str:
        """The wire and storage name, e.g. ``3f0c…:dojo-42``."""
        return f"{self.tenant}:{self.name}"

    @property
    def hash_tag(self) -> str:
        """Redis Cluster hash tag: every key of one room lands in one slot."""
        return "{" + self.key + "}"

    @classmethod
    def parse(cls, key: str) -> RoomId:
        """Parse ``<tenant-uuid>:<name>``; raise ValueError when malformed.

        Strict, so that ``parse(key).key == key``: the tenant in its canonical spelling (as
        tickets name it), the name matched whole (``$`` would let a final newline through,
        and storage keys refuse it: such a room could never compact).
        """
        tenant, sep, name = key.partition(":")
        try:
            tenant_id = uuid.UUID(tenant)
        except ValueError:
            tenant_id = None
        if not sep or tenant_id is None or str(tenant_id) != tenant or not _NAME.fullmatch(name):
            raise ValueError("room must look like <tenant-uuid>:<name>")
        return cls(tenant_id, name)
