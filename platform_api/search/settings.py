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
    opensearch_replicas: int = Field(default=1, ge=0, le=5)
    # Run the event consumer inside the API process (tantivy: it must, one writer per index).
    consume: bool = True
    consumer_group: str = "search"
    consumer_batch: int = Field(default=100, ge=1, le=1000)
    # The POC service's internal feed, for index rebuilds.
    pocs_url: str = "http://127.0.0.1:8102"
    pocs_service_token: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _checks(self) -> SearchSettings:
        if self.index_backend == "opensearch" and not self.opensearch_url:
            raise ValueError("SEARCH_OPENSEARCH_URL is required with the opensearch backend")
        if self.environment == "production" and not self.pocs_service_token.get_secret_value():
            raise ValueError("SEARCH_POCS_SERVICE_TOKEN is required in production")
        return self

    def effective_service_token(self) -> str:
        return self.pocs_service_token.get_secret_value() or DEVELOPMENT_SERVICE_TOKEN
