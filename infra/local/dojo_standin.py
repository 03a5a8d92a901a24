"""A stand-in for the dojo service, for the web app and its browser tests until the real one lands.

Development only: it keeps dojos, participants, chat and snapshots in memory (lost at restart),
but speaks the contract the web app expects (``web/src/dojo/api.ts``) and the real platform
pieces around it: access tokens verified against identity's JWKS, tenant taken only from the
token (another tenant's dojo is a 404), room tickets signed with the local dojo key and checked
by the collab nodes, role changes pushed to live connections through the collab internal API,
and a snapshot of the room's code taken from that API at every rotation.

The local stack runs it on the dojo service's place (``/api/dojos/``) only while no real
``dojos`` service is registered in ``infra/local/services.py``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import jwt
from fastapi import Depends, FastAPI, Query, Request
from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from platform_api.kernel import (
    KeySet,
    Principal,
    TokenVerifier,
    create_service_app,
    current_principal,
    forbidden,
    not_found,
)
from platform_api.kernel.keys import public_jwk_from_pem
from platform_api.kernel.settings import ServiceSettings

Caller = Annotated[Principal, Depends(current_principal)]
LANGUAGES = ("python", "javascript", "typescript", "java", "go", "rust", "cpp")


class StandinSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DOJOS_")
    service_name: str = "dojos-standin"
    ticket_key_file: Path = Path(".local/keys/dojos-ed25519.pem")
    collab_url: str = "http://127.0.0.1:8201"
    identity_url: str = "http://127.0.0.1:8101"
    ticket_seconds: int = 600


class DojoIn(BaseModel):
    title: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]*$")
    language: Literal[LANGUAGES] = "python"  # type: ignore[valid-type]
    scheduled_at: datetime | None = None
    rotation_seconds: int = Field(default=300, ge=30, le=3600)


class ChatIn(BaseModel):
    body: str = Field(min_length=1, max_length=2000)


@dataclass
class Member:
    user_id: str
    name: str
    role: str  # driver | navigator | observer


@dataclass
class Dojo:
    dojo_id: str
    tenant: str
    title: str
    language: str
    scheduled_at: datetime | None
    rotation_seconds: int
    facilitator_id: str
    status: str = "scheduled"
    members: list[Member] = field(default_factory=list)
    rotation_ends_at: datetime | None = None
    chat: list[dict[str, Any]] = field(default_factory=list)
    snapshots: list[dict[str, Any]] = field(default_factory=list)

    @property
    def room(self) -> str:
        return f"{self.tenant}:dojo-{self.dojo_id}"

    def driver(self) -> Member | None:
        return next((m for m in self.members if m.role == "driver"), None)

    def next_driver(self) -> Member | None:
        crew = [m for m in self.members if m.role != "observer"]
        current = self.driver()
        if not crew or current is None:
            return crew[0] if crew else None
        return crew[(crew.index(current) + 1) % len(crew)]

    def view(self) -> dict[str, Any]:
        driver, following = self.driver(), self.next_driver()
        return {
            "dojo_id": self.dojo_id,
            "title": self.title,
            "language": self.language,
            "status": self.status,
            "scheduled_at": self.scheduled_at,
            "rotation_seconds": self.rotation_seconds,
            "room": self.room,
            "facilitator_id": self.facilitator_id,
            "participants": [
                {**m.__dict__, "facilitator": m.user_id == self.facilitator_id}
                for m in self.members
            ],
            "driver_id": driver.user_id if driver else None,
            "next_driver_id": following.user_id if following else None,
            "rotation_ends_at": self.rotation_ends_at,
        }


class Standin:
    def __init__(self, settings: StandinSettings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self.pem = settings.ticket_key_file.read_text()
        self.kid = public_jwk_from_pem(self.pem)["kid"]
        self.dojos: dict[tuple[str, str], Dojo] = {}

    def ticket(self, dojo: Dojo, user: str, role: str, name: str = "") -> str:
        now = int(time.time())
        claims = {
            "iss": "mrbill-dojos",
            "aud": "mrbill-collab",
            "sub": user,
            "tenant": dojo.tenant,
            "room": dojo.room,
            "role": role,
            "name": name,
            "iat": now,
            "exp": now + self.settings.ticket_seconds,
        }
        headers = {"kid": self.kid, "typ": "room+jwt"}
        return jwt.encode(claims, self.pem, algorithm="EdDSA", headers=headers)

    async def internal(self, dojo: Dojo, method: str, path: str, **kwargs: Any) -> httpx.Response:
        token = self.ticket(dojo, "dojos-standin", "service")
        url = f"{self.settings.collab_url}/internal/rooms/{dojo.room}/{path}"
        headers = {"Authorization": f"Bearer {token}"}
        return await self.http.request(method, url, headers=headers, **kwargs)

    def get(self, who: Principal, dojo_id: str) -> Dojo:
        dojo = self.dojos.get((str(who.tenant_id), dojo_id))
        if dojo is None:
            raise not_found("Dojo")
        return dojo

    async def tick(self, dojo: Dojo) -> None:
        """Rotate lazily when the timer ran out (no background task needed)."""
        if dojo.status == "live" and dojo.rotation_ends_at and _now() >= dojo.rotation_ends_at:
            await self.rotate(dojo)

    async def rotate(self, dojo: Dojo) -> None:
        current, following = dojo.driver(), dojo.next_driver()
        await self.snapshot(dojo, current)
        if current and following and following is not current:
            current.role, following.role = "navigator", "driver"
            for member, role in ((current, "read"), (following, "write")):
                await self.internal(
                    dojo,
                    "POST",
                    "control",
                    json={"type": "role", "user": member.user_id, "role": role},
                )
        dojo.rotation_ends_at = _now() + timedelta(seconds=dojo.rotation_seconds)

    async def snapshot(self, dojo: Dojo, driver: Member | None) -> None:
        response = await self.internal(dojo, "GET", "state")
        if response.status_code == 200:
            dojo.snapshots.append(
                {
                    "seq": len(dojo.snapshots) + 1,
                    "created_at": _now(),
                    "driver_name": driver.name if driver else None,
                    "text": response.json()["text"],
                }
            )


def _standin(request: Request) -> Standin:
    return request.app.state.standin


Svc = Annotated[Standin, Depends(_standin)]


def _now() -> datetime:
    return datetime.now(UTC)


def create_app(settings: StandinSettings | None = None) -> FastAPI:
    settings = settings or StandinSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=5) as http:
            app.state.standin = Standin(settings, http)
            yield

    app = create_service_app(
        settings, title="Mr Bill dojos (development stand-in)", description="", lifespan=lifespan
    )
    app.state.verifier = TokenVerifier(
        KeySet(jwks_url=settings.jwks_url, cache_seconds=settings.jwks_cache_seconds),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )

    async def name_of(request: Request) -> str:
        response = await request.app.state.standin.http.get(
            f"{settings.identity_url}/me",
            headers={"Authorization": request.headers.get("authorization", "")},
        )
        return str(response.json()["user"]["full_name"]) if response.status_code == 200 else "?"

    @app.get("/dojos")
    async def list_dojos(who: Caller, s: Svc) -> dict[str, Any]:
        mine = [d for (tenant, _), d in s.dojos.items() if tenant == str(who.tenant_id)]
        return {"items": [d.view() for d in mine]}

    @app.post("/dojos", status_code=201)
    async def create(body: DojoIn, who: Caller, s: Svc, request: Request) -> dict[str, Any]:
        dojo = Dojo(
            dojo_id=uuid.uuid4().hex,
            tenant=str(who.tenant_id),
            title=body.title,
            language=body.language,
            scheduled_at=body.scheduled_at,
            rotation_seconds=body.rotation_seconds,
            facilitator_id=str(who.user_id),
        )
        dojo.members.append(Member(str(who.user_id), await name_of(request), "driver"))
        s.dojos[(dojo.tenant, dojo.dojo_id)] = dojo
        return dojo.view()

    @app.get("/dojos/{dojo_id}")
    async def get(dojo_id: str, who: Caller, s: Svc) -> dict[str, Any]:
        dojo = s.get(who, dojo_id)
        await s.tick(dojo)
        return dojo.view()

    @app.post("/dojos/{dojo_id}/join")
    async def join(dojo_id: str, who: Caller, s: Svc, request: Request) -> dict[str, Any]:
        dojo = s.get(who, dojo_id)
        if not any(m.user_id == str(who.user_id) for m in dojo.members):
            dojo.members.append(Member(str(who.user_id), await name_of(request), "navigator"))
        return dojo.view()

    @app.post("/dojos/{dojo_id}/start")
    async def start(dojo_id: str, who: Caller, s: Svc) -> dict[str, Any]:
        dojo = s.get(who, dojo_id)
        if dojo.facilitator_id != str(who.user_id):
            raise forbidden("Only the facilitator starts the dojo")
        dojo.status = "live"
        dojo.rotation_ends_at = _now() + timedelta(seconds=dojo.rotation_seconds)
        return dojo.view()

    @app.post("/dojos/{dojo_id}/rotate")
    async def rotate(dojo_id: str, who: Caller, s: Svc) -> dict[str, Any]:
        dojo = s.get(who, dojo_id)
        if dojo.facilitator_id != str(who.user_id):
            raise forbidden("Only the facilitator rotates the roles")
        await s.rotate(dojo)
        return dojo.view()

    @app.post("/dojos/{dojo_id}/ticket")
    async def ticket(dojo_id: str, who: Caller, s: Svc) -> dict[str, Any]:
        dojo = s.get(who, dojo_id)
        member = next((m for m in dojo.members if m.user_id == str(who.user_id)), None)
        if member is None:
            raise forbidden("Join the dojo first")
        role = "write" if member.role == "driver" else "read"
        return {
            "ticket": s.ticket(dojo, member.user_id, role, member.name),
            "room": dojo.room,
            "url": f"/collab/{dojo.room}",
            "role": role,
            "expires_in": settings.ticket_seconds,
        }

    @app.get("/dojos/{dojo_id}/chat")
    async def chat(
        dojo_id: str, who: Caller, s: Svc, after: Annotated[int, Query(ge=0)] = 0
    ) -> dict[str, Any]:
        return {"items": [m for m in s.get(who, dojo_id).chat if m["seq"] > after]}

    @app.post("/dojos/{dojo_id}/chat", status_code=201)
    async def say(dojo_id: str, body: ChatIn, who: Caller, s: Svc) -> dict[str, Any]:
        dojo = s.get(who, dojo_id)
        member = next((m for m in dojo.members if m.user_id == str(who.user_id)), None)
        if member is None:
            raise forbidden("Join the dojo first")
        message = {
            "seq": len(dojo.chat) + 1,
            "user_id": member.user_id,
            "name": member.name,
            "body": body.body,
            "created_at": _now(),
        }
        dojo.chat.append(message)
        return message

    @app.get("/dojos/{dojo_id}/snapshots")
    async def snapshots(dojo_id: str, who: Caller, s: Svc) -> dict[str, Any]:
        return {"items": s.get(who, dojo_id).snapshots}

    return app
