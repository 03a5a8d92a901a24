"""Dojo service settings (environment variables prefixed ``DOJOS_``)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from platform_api.kernel.events import EventBusSettings

DEVELOPMENT_SERVICE_TOKEN = "development-only-service-token"  # noqa: S105


class DojosSettings(EventBusSettings):
    """Events go out on ``DOJOS_EVENT_BUS``: ``redis`` (Redis Streams, the default), ``aws``
    (SNS topics ``DOJOS_EVENT_TOPIC_ARNS``, e.g. ``{"dojo": "arn:aws:sns:…"}``) or ``memory``."""

    model_config = SettingsConfigDict(
        env_prefix="DOJOS_", extra="ignore", frozen=True, populate_by_name=True
    )

    service_name: str = "dojos"
    # Room tickets: signed with this Ed25519 key, published at /.well-known/jwks.json.
    ticket_private_key: SecretStr = SecretStr("")
    ticket_private_key_file: str = ""
    ticket_ttl_seconds: int = Field(default=120, ge=5, le=900)
    ticket_issuer: str = "mrbill-dojos"
    ticket_audience: str = "mrbill-collab"
    # The collab nodes' internal API (any node serves any room), and their public WebSocket URL.
    collab_url: str = Field(
        default="", validation_alias=AliasChoices("DOJOS_COLLAB_URL", "MRBILL_COLLAB_URL")
    )
    collab_public_url: str = "ws://localhost:8080/collab"
    collab_timeout_seconds: float = Field(default=5.0, gt=0)
    # Display names come from the identity service (GET /me with the caller's token).
    identity_url: str = Field(
        default="", validation_alias=AliasChoices("DOJOS_IDENTITY_URL", "MRBILL_IDENTITY_URL")
    )
    public_base_url: str = "http://localhost:8080"
    # Snapshots: a local folder, or S3 (SSE-KMS) when a bucket is set.
    snapshot_dir: str = ".local/objects"
    s3_bucket: str = ""
    s3_kms_key_id: str = ""
    s3_endpoint_url: str = ""
    snapshot_every_seconds: int = Field(default=120, ge=1, le=3600)
    # Snapshots on demand, per dojo: each holds the dojo's row (and a rotation) meanwhile.
    manual_snapshots_per_minute: int = Field(default=6, ge=1, le=600)
    max_code_chars: int = Field(default=200_000, ge=1000)
    # The worker (scheduler + outbox relay) runs in every API process unless disabled; it
    # connects as the owner role (``migrations_database_url``) to find due work.
    run_worker: bool = True
    scheduler_interval_seconds: float = Field(default=0.25, gt=0, le=10)
    # Shared secret of the internal feed that the search service rebuilds its index from.
    service_token: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _secrets_required_in_production(self) -> DojosSettings:
        if self.environment == "production":
            if not (self.ticket_private_key.get_secret_value() or self.ticket_private_key_file):
                raise ValueError("DOJOS_TICKET_PRIVATE_KEY is required in production")
            if not self.collab_url:
                raise ValueError("MRBILL_COLLAB_URL is required in production")
            if not self.service_token.get_secret_value():
                raise ValueError("DOJOS_SERVICE_TOKEN is required in production")
        return self

    def effective_service_token(self) -> str:
        return self.service_token.get_secret_value() or DEVELOPMENT_SERVICE_TOKEN
