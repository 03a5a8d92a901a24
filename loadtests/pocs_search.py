"""Locust: the everyday API mix of POCs and search, through the local entry point.

    ./mrbill up                      # in another terminal
    uv run locust -f loadtests/pocs_search.py --host http://localhost:8080 \
        --users 50 --spawn-rate 10 --run-time 2m --headless

Each simulated user logs in as a demo account, then mostly searches (with typos, filters,
pages and suggestions), reads and lists POCs, and sometimes registers or edits one.
Targets from the brief: search < 1 s, API p95 < 300 ms.
"""

from __future__ import annotations

import random
import uuid

from locust import HttpUser, between, task

ACCOUNTS = [
    ("bill@mrbill.dev", "mrbill-demo-2026"),
    ("ana@mrbill.dev", "mrbill-demo-2026"),
    ("wile@acme.dev", "acme-demo-2026"),
]
QUERIES = ["pyhton", "reactt", "kafka", "rust cli", "dashbord", "api", "tenant", "yjs", "grpc"]
PREFIXES = ["py", "rea", "ka", "ru", "da", "str"]
LANGUAGES = ["Python", "TypeScript", "Go", "Rust", "Java"]
TAGS = ["api", "web", "frontend", "realtime", "cli", "streaming", "load-test"]


class PocUser(HttpUser):
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        email, password = random.choice(ACCOUNTS)
        response = self.client.post(
            "/api/identity/login", json={"email": email, "password": password}, name="login"
        )
        response.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        self.known: list[str] = []

    @task(8)
    def search(self) -> None:
        params: dict[str, object] = {"q": random.choice(QUERIES)}
        if random.random() < 0.3:
            params["language"] = random.choice(LANGUAGES)
        if random.random() < 0.2:
            params["tags"] = random.sample(TAGS, 2)
            params["tag_mode"] = random.choice(["all", "any"])
        if random.random() < 0.2:
            params["sort"] = random.choice(["newest", "name"])
        with self.client.get(
            "/api/search/search", params=params, name="search", catch_response=True
        ) as r:
            if r.status_code == 200:
                cursor = r.json().get("next_cursor")
                self.known += [i["poc_id"] for i in r.json()["items"]][:5]
                self.known = self.known[-50:]
                if cursor:
                    self.client.get(
                        "/api/search/search",
                        params={**params, "cursor": cursor},
                        name="search page 2",
                    )
            elif r.elapsed.total_seconds() > 1:
                r.failure("search slower than 1 s")

    @task(2)
    def suggest(self) -> None:
        self.client.get(
            "/api/search/suggest", params={"q": random.choice(PREFIXES)}, name="suggest"
        )

    @task(3)
    def list_pocs(self) -> None:
        self.client.get(
            "/api/pocs/pocs",
            params={"limit": 20, "sort": random.choice(["newest", "name", "updated"])},
            name="list pocs",
        )

    @task(3)
    def read_poc(self) -> None:
        if self.known:
            self.client.get(f"/api/pocs/pocs/{random.choice(self.known)}", name="read poc")

    @task(1)
    def register_and_edit(self) -> None:
        body = {
            "name": f"Load test {uuid.uuid4().hex[:8]}",
            "language": random.choice(LANGUAGES),
            "tags": ["load-test", random.choice(TAGS)],
            "visibility": "private",
        }
        created = self.client.post("/api/pocs/pocs", json=body, name="create poc")
        if created.status_code != 201:
            return
        poc_id, etag = created.json()["poc_id"], created.headers["ETag"]
        self.client.patch(
            f"/api/pocs/pocs/{poc_id}",
            json={"status": "in_progress"},
            headers={"If-Match": etag},
            name="update poc",
        )
        if random.random() < 0.5:
            self.client.delete(f"/api/pocs/pocs/{poc_id}", name="delete poc")
