"""Search service settings (environment variables prefixed ``SEARCH_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from platform_api.kernel.events import EventBusSettings

DEVELOPMENT_SERVICE_TOKEN = "development-only-service-token"  # noqa: S105


class SearchSettings(EventBusSettings):
    model_config = SettingsConfigDict(env_prefix="SEARCH_", extra="ignore", frozen=True)

    service_name: str = "search"
    # tantivy: embedded, files under data_dir (empty: in memory). opensearch: opensearch_url.
    index_backend: Literal["tantivy", "opensearch"] = "tantivy"
    data_dir: str = ""
    opensearch_url: str = ""
    opensearch_index: str = "mrbill-pocs-v1"
    opensearch_dojo_index: str = "mrbill-dojos-v1"
    opensearch_replicas: int = Field(default=1, ge=0, le=5)
    # Run the event consumer inside the API process (tantivy: it must, one writer per index).
    consume: bool = True
    consumer_group: str = "search"
    consumer_batch: int = Field(default=100, ge=1, le=1000)
    # An event that fails this many deliveries (the index and database being up) is parked
    # in the dead letters (``python -m platform_api.search.dead_letters``).
    consumer_max_attempts: int = Field(default=5, ge=1, le=100)
    # The POC service's internal feed, for index rebuilds.
    pocs_url: str = "http://127.0.0.1:8102"
    pocs_service_token: SecretStr = SecretStr("")
    # The dojo service's internal feed, likewise.
    dojos_url: str = "http://127.0.0.1:8104"
    dojos_service_token: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _checks(self) -> SearchSettings:
        if self.index_backend == "opensearch" and not self.opensearch_url:
            raise ValueError("SEARCH_OPENSEARCH_URL is required with the opensearch backend")
        if self.environment == "production":
            for name in ("pocs_service_token", "dojos_service_token"):
                if not getattr(self, name).get_secret_value():
                    raise ValueError(f"SEARCH_{name.upper()} is required in production")
        return self

    def effective_service_token(self) -> str:
        """The POC service's feed token."""
        return self.pocs_service_token.get_secret_value() or DEVELOPMENT_SERVICE_TOKEN

    def effective_dojos_token(self) -> str:
        """The dojo service's feed token."""
        return self.dojos_service_token.get_secret_value() or DEVELOPMENT_SERVICE_TOKEN
