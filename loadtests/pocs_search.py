"""Locust: a tenant's everyday mix of POC writes and searches, through the entry point.

    ./mrbill up                      # in another terminal
    uv run locust -f loadtests/pocs_search.py --host http://localhost:8080 \
        --users 20 --spawn-rate 10 --run-time 60s --headless --only-summary

Each simulated user logs in (``POCS_ACCOUNTS="email:password,..."``, default: the demo
accounts), then mostly searches: popular words, typos, language/tag filters, a second page,
as-you-type suggestions; reads and lists POCs; registers POCs from
:mod:`loadtests.poc_corpus`, edits its own (status, tags, description, with ``If-Match``) and
sometimes deletes one. Targets from the brief: search < 1 s, API p95 < 300 ms.

Logins are limited per account (10/minute by default): more than ~10 users per account need
``IDENTITY_LOGIN_RATE_PER_ACCOUNT`` raised on the stack.
"""

from __future__ import annotations

import os
import random
from typing import Any

from locust import HttpUser, between, task

from loadtests import poc_corpus

DEMO = (
    "bill@mrbill.dev:mrbill-demo-2026,ana@mrbill.dev:mrbill-demo-2026,wile@acme.dev:acme-demo-2026"
)
ACCOUNTS = [
    tuple(pair.split(":", 1)) for pair in os.environ.get("POCS_ACCOUNTS", DEMO).split(",") if pair
]
STATUSES = ["idea", "in_progress", "done", "abandoned"]


class PocUser(HttpUser):
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.rng = random.Random()
        email, password = self.rng.choice(ACCOUNTS)
        response = self.client.post(
            "/api/identity/login", json={"email": email, "password": password}, name="login"
        )
        response.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        self.known: list[str] = []  # POCs seen in search results
        self.mine: dict[str, str] = {}  # POCs this user created: id -> ETag

    def _search(self, params: dict[str, Any], name: str) -> None:
        with self.client.get(
            "/api/search/search", params=params, name=name, catch_response=True
        ) as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code}")
                return
            if r.elapsed.total_seconds() > 1:
                r.failure("search slower than 1 s")
            body = r.json()
            self.known = (self.known + [i["poc_id"] for i in body["items"][:5]])[-50:]
            if body.get("next_cursor") and self.rng.random() < 0.2:
                self.client.get(
                    "/api/search/search",
                    params={**params, "cursor": body["next_cursor"]},
                    name="search page 2",
                )

    @task(6)
    def search_words(self) -> None:
        params: dict[str, Any] = {"q": poc_corpus.typical_query(self.rng)}
        if self.rng.random() < 0.2:
            params["language"] = poc_corpus.language_filter(self.rng)
        if self.rng.random() < 0.15:
            params["sort"] = self.rng.choice(["newest", "name"])
        self._search(params, "search text")

    @task(2)
    def search_typo(self) -> None:
        self._search({"q": poc_corpus.typo_query(self.rng)}, "search typo")

    @task(2)
    def search_filter(self) -> None:
        params: dict[str, Any] = {"language": poc_corpus.language_filter(self.rng)}
        if self.rng.random() < 0.5:
            params = {"tags": [poc_corpus.tag_filter(self.rng) for _ in range(2)]}
            params["tag_mode"] = self.rng.choice(["all", "any"])
        self._search(params, "search filter")

    @task(3)
    def suggest(self) -> None:
        self.client.get(
            "/api/search/suggest", params={"q": poc_corpus.prefix_query(self.rng)}, name="suggest"
        )

    @task(2)
    def list_pocs(self) -> None:
        self.client.get(
            "/api/pocs/pocs",
            params={"limit": 20, "sort": self.rng.choice(["newest", "name", "updated"])},
            name="list pocs",
        )

    @task(2)
    def read_poc(self) -> None:
        if not self.known:
            return
        poc_id = self.rng.choice(self.known)
        with self.client.get(f"/api/pocs/pocs/{poc_id}", name="read poc", catch_response=True) as r:
            if r.status_code == 404:  # deleted since the search found it: a normal race
                self.known.remove(poc_id)
                r.success()

    @task(2)
    def create_poc(self) -> None:
        body = poc_corpus.generate(self.rng).body()
        with self.client.post(
            "/api/pocs/pocs", json=body, name="create poc", catch_response=True
        ) as r:
            if r.status_code == 201:
                self.mine[r.json()["poc_id"]] = r.headers["ETag"]
            else:
                r.failure(f"status {r.status_code}")

    @task(2)
    def update_poc(self) -> None:
        if not self.mine:
            return
        poc_id = self.rng.choice(list(self.mine))
        change: dict[str, Any] = self.rng.choice(
            [
                {"status": self.rng.choice(STATUSES)},
                {"tags": [poc_corpus.tag_filter(self.rng) for _ in range(3)]},
                {"description": poc_corpus.generate(self.rng).description},
            ]
        )
        with self.client.patch(
            f"/api/pocs/pocs/{poc_id}",
            json=change,
            headers={"If-Match": self.mine[poc_id]},
            name="update poc",
            catch_response=True,
        ) as r:
            if r.status_code == 200:
                self.mine[poc_id] = r.headers["ETag"]
            else:
                r.failure(f"status {r.status_code}")

    @task(1)
    def delete_poc(self) -> None:
        if len(self.mine) > 3:
            poc_id = self.rng.choice(list(self.mine))
            etag = self.mine.pop(poc_id)
            self.client.delete(
                f"/api/pocs/pocs/{poc_id}", headers={"If-Match": etag}, name="delete poc"
            )
