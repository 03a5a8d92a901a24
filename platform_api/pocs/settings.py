"""POC service settings (environment variables prefixed ``POCS_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from platform_api.kernel.events import EventBusSettings

DEVELOPMENT_SERVICE_TOKEN = "development-only-service-token"  # noqa: S105


class PocsSettings(EventBusSettings):
    model_config = SettingsConfigDict(env_prefix="POCS_", extra="ignore", frozen=True)

    service_name: str = "pocs"
    max_body_bytes: int = Field(default=2_097_152, ge=1024)  # bulk imports
    import_max_rows: int = Field(default=1000, ge=1, le=10_000)
    # Soft-deleted POCs can be restored for this long, then the worker purges them.
    trash_retention_days: int = Field(default=30, ge=30, le=365)
    # Shared secret of the internal feed that the search service rebuilds its index from.
    service_token: SecretStr = SecretStr("")
    relay_batch_size: int = Field(default=100, ge=1, le=1000)
    # An export is read, formatted and sent this many POCs at a time.
    export_chunk_rows: int = Field(default=1000, ge=1, le=10_000)
    # Exports one organization downloads at once (per process): one more is answered 429.
    export_concurrency_per_tenant: int = Field(default=2, ge=1, le=64)

    @model_validator(mode="after")
    def _secrets_required_in_production(self) -> PocsSettings:
        if self.environment == "production" and not self.service_token.get_secret_value():
            raise ValueError("POCS_SERVICE_TOKEN is required in production")
        return self

    def effective_service_token(self) -> str:
        return self.service_token.get_secret_value() or DEVELOPMENT_SERVICE_TOKEN
