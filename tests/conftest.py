"""Shared fixtures: the real PostgreSQL and Redis of this machine (or those in the environment)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.harness.moto import FAKE_CREDENTIALS, moto_server

# Property tests check what holds, not how fast: a per-example deadline fails them on a
# loaded machine (speed is measured in loadtests/, never asserted in a test).
settings.register_profile("mrbill", deadline=None)
settings.load_profile("mrbill")

DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def admin_dsn() -> str:
    return os.environ.get("DATABASE_URL", DEFAULT_ADMIN_DSN)


@pytest.fixture(scope="session")
def redis_url() -> str:
    return os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)


@pytest.fixture(scope="session")
def run_id() -> str:
    """Distinguishes this test session's keys in shared services such as Redis."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """moto's server (SNS, SQS, S3, KMS), with fake credentials in the environment."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in FAKE_CREDENTIALS.items():
            patch.setenv(key, value)
        with moto_server() as url:
            yield url
