"""Settings shared by every service: read from the environment, validated at start-up."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "test", "production"]


class ServiceSettings(BaseSettings):
    """Base class; each service subclasses it with its own ``env_prefix``.

    ``database_url`` is the application role's DSN (subject to row-level security);
    ``migrations_database_url`` is the table owner's DSN, used only to apply migrations.
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    environment: Environment = "development"
    service_name: str = "service"
    database_url: str = ""
    migrations_database_url: str = ""
    redis_url: str = ""
    db_pool_min: int = Field(default=1, ge=0)
    db_pool_max: int = Field(default=10, ge=1)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    log_level: str = "INFO"
    # Access tokens: who issues them, for whom, and where the issuer's public keys live.
    jwt_issuer: str = "https://mrbill.local/identity"
    jwt_audience: str = "mrbill-api"
    jwks_url: str = ""
    jwks_cache_seconds: int = Field(default=300, ge=1)

    @model_validator(mode="after")
    def _production_needs_explicit_config(self) -> ServiceSettings:
        if self.environment == "production" and not self.database_url:
            raise ValueError("database_url must be set in production")
        return self
