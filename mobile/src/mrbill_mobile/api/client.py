"""The HTTP core: one base URL (the public entry point), bearer tokens with silent refresh,
problem+json errors and a clear "offline" signal. Knows nothing about screens.

Every service sits under ``{base_url}/api/<service>/`` behind the production load balancer
and the local entry port alike; ``service_urls`` can point one service elsewhere.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from ..tokens import TokenStore
from .errors import ApiError, AuthRequired, Offline, Unavailable

REFRESH_MARGIN_SECONDS = 30.0  # refresh this long before the access token expires
GATEWAY_ERRORS = (502, 503, 504)  # the service behind the entry point is not there now
Listener = Callable[[bool], None]


class ApiClient:
    """Talks to Mr Bill's public API on behalf of one signed-in person."""

    def __init__(
        self,
        base_url: str,
        *,
        tokens: TokenStore,
        service_urls: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        language: str = "en",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.service_urls = {k: v.rstrip("/") for k, v in (service_urls or {}).items()}
        # The services answer problems in the app's language (Accept-Language).
        self._http = httpx.AsyncClient(
            timeout=timeout,
            transport=transport,
            headers={"accept": "application/json", "accept-language": language},
        )
        self._clock = clock
        self.access_token: str | None = None  # in memory only, never written anywhere
        self._expires_at = 0.0
        self._refresh_lock = asyncio.Lock()
        self.online = True
        self._listeners: list[Listener] = []

    # -- plumbing ---------------------------------------------------------------------------

    def url(self, service: str, path: str) -> str:
        root = self.service_urls.get(service, f"{self.base_url}/api/{service}")
        return f"{root}{path}"

    def on_connectivity(self, listener: Listener) -> None:
        """Call ``listener(online)`` whenever reaching the API starts or stops working."""
        self._listeners.append(listener)

    def _set_online(self, online: bool) -> None:
        if online != self.online:
            self.online = online
            for listener in list(self._listeners):
                listener(online)

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.TransportError as exc:  # refused, DNS, TLS, timeout, reset
            self._set_online(False)
            raise Offline(str(exc) or type(exc).__name__) from exc
        if response.status_code in GATEWAY_ERRORS:
            self._set_online(False)
            raise Unavailable(ApiError.from_response(response))
        self._set_online(True)
        return response

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- tokens -----------------------------------------------------------------------------

    @property
    def has_session(self) -> bool:
        return self.access_token is not None or self.tokens.load() is not None

    def adopt(self, tokens: Mapping[str, Any]) -> None:
        """Keep a token pair from login, sign-up or refresh: access in memory, refresh stored."""
        self.access_token = str(tokens["access_token"])
        self._expires_at = self._clock() + float(tokens.get("expires_in") or 900)
        self.tokens.save(str(tokens["refresh_token"]))

    def forget(self) -> None:
        self.access_token = None
        self._expires_at = 0.0
        self.tokens.clear()

    async def refresh(self, stale: str | None = None) -> None:
        """Trade the stored refresh token for a new pair (it rotates on every use).

        Serialized, and skipped when another caller already replaced ``stale``: presenting a
        used refresh token twice would make the identity service revoke the whole login.
        """
        async with self._refresh_lock:
            if self.access_token is not None and self.access_token != stale:
                return
            token = self.tokens.load()
            if not token:
                raise AuthRequired()
            response = await self._send(
                "POST", self.url("identity", "/token/refresh"), json={"refresh_token": token}
            )
            if response.status_code in (400, 401, 403, 404, 422):
                self.forget()
                raise AuthRequired(ApiError.from_response(response))
            if response.is_error:
                raise ApiError.from_response(response)
            self.adopt(response.json())

    async def _bearer(self) -> str:
        if self.access_token is None or self._expires_at - self._clock() < REFRESH_MARGIN_SECONDS:
            await self.refresh(stale=self.access_token)
        assert self.access_token is not None
        return self.access_token

    # -- requests ---------------------------------------------------------------------------

    async def call(
        self,
        method: str,
        service: str,
        path: str,
        *,
        auth: bool = True,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send a request; raise `ApiError` for problems, `Offline` when unreachable (or
        `Unavailable`, an `Offline`, when the gateway answers that the service is not there).

        With ``auth``, a 401 leads to one silent refresh and one retry; if that fails too,
        `AuthRequired` tells the app to show the login screen.
        """
        url = self.url(service, path)
        sent_headers = dict(headers or {})
        if not auth:
            response = await self._send(method, url, headers=sent_headers, **kwargs)
        else:
            token = await self._bearer()
            sent_headers["authorization"] = f"Bearer {token}"
            response = await self._send(method, url, headers=sent_headers, **kwargs)
            if response.status_code == 401:
                await self.refresh(stale=token)
                sent_headers["authorization"] = f"Bearer {self.access_token}"
                response = await self._send(method, url, headers=sent_headers, **kwargs)
        if response.is_error:
            raise ApiError.from_response(response)
        return response

    async def json(self, method: str, service: str, path: str, **kwargs: Any) -> Any:
        return (await self.call(method, service, path, **kwargs)).json()
