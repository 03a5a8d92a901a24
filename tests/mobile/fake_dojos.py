"""A stand-in for the dojo service (test-only), speaking the subset of its routes the mobile
app uses: ``GET /dojos?status=``, ``POST /dojos/join`` and ``POST /dojos/{id}/tickets``.

The real service is being built on the ``dojos`` branch; once it is merged, the stack should
mount it instead. Tokens are verified with the identity service's keys; tickets are real
EdDSA room tickets that the real collab node checks.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI, Request

from platform_api.kernel import KeySet, Principal, Problem, TokenVerifier
from platform_api.kernel.errors import install_error_handlers
from platform_api.kernel.keys import generate_private_key_pem, public_jwk_from_pem


@dataclass
class FakeDojos:
    private_pem: str = field(default_factory=generate_private_key_pem)
    collab_url: str = ""
    dojos: dict[str, dict[str, Any]] = field(default_factory=dict)
    invites: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (dojo, role)
    members: dict[tuple[str, str], str] = field(default_factory=dict)  # (dojo, user) -> role

    @property
    def public_pem(self) -> str:
        key = serialization.load_pem_private_key(self.private_pem.encode(), password=None)
        return (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def create(self, tenant_id: str, name: str, status: str = "active", **extra: Any) -> str:
        dojo_id = str(uuid.uuid4())
        self.dojos[dojo_id] = {
            "dojo_id": dojo_id, "tenant_id": tenant_id, "name": name, "status": status,
            "language": extra.pop("language", "python"), "description": "",
            "scheduled_start_time": extra.pop("scheduled_start_time", None),
            "participant_count": 1, **extra,
        }  # fmt: skip
        return dojo_id

    def invite(self, dojo_id: str, role: str = "observer") -> str:
        code = uuid.uuid4().hex
        self.invites[code] = (dojo_id, role)
        return code

    def room(self, dojo_id: str) -> str:
        return f"{self.dojos[dojo_id]['tenant_id']}:dojo-{dojo_id}"

    def mint(self, dojo_id: str, role: str, user: str = "facilitator", ttl: int = 300) -> str:
        room = self.room(dojo_id)
        now = int(time.time())
        claims = {
            "iss": "mrbill-dojos", "aud": "mrbill-collab", "sub": user,
            "tenant": room.split(":", 1)[0], "room": room, "role": role,
            "iat": now, "exp": now + ttl,
        }  # fmt: skip
        kid = public_jwk_from_pem(self.private_pem)["kid"]
        return jwt.encode(
            claims, self.private_pem, algorithm="EdDSA", headers={"kid": kid, "typ": "room+jwt"}
        )


def create_dojos_app(state: FakeDojos, keys: KeySet) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    verifier = TokenVerifier(keys, issuer="https://mrbill.local/identity", audience="mrbill-api")

    async def caller(request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            raise Problem(401, "Missing bearer token")
        return await verifier.verify(header.removeprefix("Bearer "))

    def visible(dojo_id: str, who: Principal) -> dict[str, Any]:
        dojo = state.dojos.get(dojo_id)
        if dojo is None or dojo["tenant_id"] != str(who.tenant_id):
            raise Problem(404, "Dojo not found")
        return dojo

    @app.get("/dojos")
    async def list_dojos(request: Request, status: str | None = None) -> dict[str, Any]:
        who = await caller(request)
        items = [
            d for d in state.dojos.values()
            if d["tenant_id"] == str(who.tenant_id) and status in (None, d["status"])
        ]  # fmt: skip
        return {"items": items, "next_cursor": None}

    @app.post("/dojos/join")
    async def join(request: Request) -> dict[str, Any]:
        who = await caller(request)
        code = (await request.json()).get("code", "")
        if code not in state.invites:
            raise Problem(404, "Invite not found")
        dojo_id, role = state.invites[code]
        visible(dojo_id, who)
        state.members[(dojo_id, str(who.user_id))] = role
        return {"dojo_id": dojo_id, "user_id": str(who.user_id), "role": role}

    @app.post("/dojos/{dojo_id}/tickets")
    async def ticket(dojo_id: str, request: Request) -> dict[str, Any]:
        who = await caller(request)
        visible(dojo_id, who)
        role = state.members.get((dojo_id, str(who.user_id)))
        if role is None:
            raise Problem(403, "Join this dojo to enter its room")
        access = "read" if role == "observer" else "write"
        return {
            "ticket": state.mint(dojo_id, access, str(who.user_id), ttl=60),
            "room": state.room(dojo_id),
            "url": f"{state.collab_url}/{state.room(dojo_id)}",
            "role": access,
            "expires_in": 60,
        }

    return app
