"""One small class per service: the endpoints the app uses, typed, over `ApiClient`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from .client import ApiClient
from .errors import AuthRequired
from .models import ContentRequest, Download, Me, Poc, SearchPage


class IdentityApi:
    def __init__(self, client: ApiClient) -> None:
        self.client = client

    async def login(self, email: str, password: str, tenant_id: str | None = None) -> None:
        """Log in; `TwoFactorRequired` when the account wants a code too (`login_two_factor`)."""
        body: dict[str, Any] = {"email": email, "password": password}
        if tenant_id:
            body["tenant_id"] = tenant_id
        self.client.adopt(
            await self.client.json("POST", "identity", "/login", json=body, auth=False)
        )

    async def login_two_factor(self, challenge: str, code: str) -> None:
        """The second step: the authenticator app's 6-digit code, or a recovery code.

        A wrong code is an `ApiError` of type `INVALID_CODE` (the challenge stays usable);
        `TwoFactorExpired` means starting again from the password.
        """
        body = {"challenge": challenge, "code": code}
        self.client.adopt(
            await self.client.json("POST", "identity", "/login/two-factor", json=body, auth=False)
        )

    async def sign_up(self, organization: str, full_name: str, email: str, password: str) -> None:
        body = {
            "organization": organization,
            "full_name": full_name,
            "email": email,
            "password": password,
        }
        data = await self.client.json("POST", "identity", "/signup", json=body, auth=False)
        self.client.adopt(data["tokens"])

    async def me(self) -> Me:
        return Me.from_json(await self.client.json("GET", "identity", "/me"))

    async def logout(self) -> None:
        """Revoke the refresh token's whole family on the server, then forget it here."""
        token = self.client.tokens.load()
        try:
            if token:
                await self.client.call(
                    "POST", "identity", "/token/logout", json={"refresh_token": token}, auth=False
                )
        finally:
            self.client.forget()

    async def resume(self) -> Me | None:
        """At launch: a stored refresh token silently becomes a session again, or nothing."""
        if self.client.tokens.load() is None:
            return None
        try:
            await self.client.refresh()
        except AuthRequired:
            return None
        return await self.me()


class SearchApi:
    def __init__(self, client: ApiClient) -> None:
        self.client = client

    async def search(
        self,
        q: str = "",
        *,
        languages: Sequence[str] = (),
        tags: Sequence[str] = (),
        cursor: str | None = None,
        limit: int = 20,
    ) -> SearchPage:
        """Typo-tolerant search; newest first when there is no text."""
        params: list[tuple[str, str | int]] = [("q", q), ("limit", limit)]
        params.append(("sort", "relevance" if q.strip() else "newest"))
        params += [("language", value) for value in languages]
        params += [("tags", value) for value in tags]
        if cursor:
            params.append(("cursor", cursor))
        return SearchPage.from_json(
            await self.client.json("GET", "search", "/search", params=params)
        )


class PocsApi:
    def __init__(self, client: ApiClient) -> None:
        self.client = client

    async def get(self, poc_id: str) -> Poc:
        return Poc.from_json(await self.client.json("GET", "pocs", f"/pocs/{poc_id}"))

    async def create(self, fields: dict[str, Any], *, idempotency_key: str | None = None) -> Poc:
        """Register a POC. With ``idempotency_key``, sending it again (the answer was lost)
        returns the POC the first call made instead of making a second one."""
        headers = {"idempotency-key": idempotency_key} if idempotency_key else None
        return Poc.from_json(
            await self.client.json("POST", "pocs", "/pocs", json=fields, headers=headers)
        )

    async def update(self, poc: Poc, changes: dict[str, Any]) -> Poc:
        """PATCH with the ETag read; a 412 means someone else changed it meanwhile."""
        data = await self.client.json(
            "PATCH", "pocs", f"/pocs/{poc.poc_id}", json=changes, headers={"if-match": poc.etag}
        )
        return Poc.from_json(data)

    async def delete(self, poc: Poc) -> None:
        await self.client.call(
            "DELETE", "pocs", f"/pocs/{poc.poc_id}", headers={"if-match": poc.etag}
        )


class ContentApi:
    def __init__(self, client: ApiClient) -> None:
        self.client = client

    async def request(
        self, kind: str, year: int, language: str, *, idempotency_key: str | None = None
    ) -> ContentRequest:
        """Ask for a PDF report or a yearly video; retried taps with one key make one request."""
        body = {"type": kind, "year": year, "language": language}
        headers = {"idempotency-key": idempotency_key or uuid.uuid4().hex}
        data = await self.client.json(
            "POST", "content", "/content-requests", json=body, headers=headers
        )
        return ContentRequest.from_json(data)

    async def get(self, request_id: str) -> ContentRequest:
        data = await self.client.json("GET", "content", f"/content-requests/{request_id}")
        return ContentRequest.from_json(data)

    async def recent(self, limit: int = 10) -> list[ContentRequest]:
        data = await self.client.json(
            "GET", "content", "/content-requests", params={"limit": limit}
        )
        return [ContentRequest.from_json(item) for item in data["items"]]

    async def download(self, request_id: str) -> Download:
        data = await self.client.json("GET", "content", f"/content-requests/{request_id}/download")
        return Download(data["url"], data["filename"], data["content_type"])
