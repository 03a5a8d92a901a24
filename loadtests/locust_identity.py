"""Locust: sign-up, login and token refresh against the identity API.

    uv run locust -f loadtests/locust_identity.py --headless -u 20 -r 5 -t 60s \
        --host http://localhost:8080/api/identity

Each simulated user signs up its own organization once, then logs in, refreshes (rotating
its refresh token every time) and reads /me. Login is rate-limited per account and per
address: to measure raw latency from one machine, run the service with relaxed limits
(IDENTITY_LOGIN_RATE_PER_ADDRESS / _PER_ACCOUNT, IDENTITY_SIGNUP_RATE_PER_ADDRESS).
"""

from __future__ import annotations

import uuid

from locust import HttpUser, between, task

PASSWORD = "load-test-password-1"


class IdentityUser(HttpUser):
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.email = f"load-{uuid.uuid4().hex[:12]}@example.com"
        response = self.client.post(
            "/signup",
            json={
                "organization": f"Load {uuid.uuid4().hex[:6]}",
                "full_name": "Load Tester",
                "email": self.email,
                "password": PASSWORD,
            },
            name="signup",
        )
        tokens = response.json()["tokens"]
        self.access, self.refresh = tokens["access_token"], tokens["refresh_token"]

    @task(3)
    def login(self) -> None:
        with self.client.post(
            "/login",
            json={"email": self.email, "password": PASSWORD},
            name="login",
            catch_response=True,
        ) as response:
            if response.status_code == 200:
                tokens = response.json()
                self.access, self.refresh = tokens["access_token"], tokens["refresh_token"]
            else:
                response.failure(f"login {response.status_code}")

    @task(3)
    def refresh_token(self) -> None:
        with self.client.post(
            "/token/refresh",
            json={"refresh_token": self.refresh},
            name="refresh",
            catch_response=True,
        ) as response:
            if response.status_code == 200:
                tokens = response.json()
                self.access, self.refresh = tokens["access_token"], tokens["refresh_token"]
            else:
                response.failure(f"refresh {response.status_code}")

    @task(1)
    def me(self) -> None:
        self.client.get("/me", headers={"Authorization": f"Bearer {self.access}"}, name="me")
