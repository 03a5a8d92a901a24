"""Content service settings (environment variables prefixed ``CONTENT_``).

The media workers (``media_jobs``) are processes of this service: they read the same settings.
``CONTENT_AWS_REGION`` and ``CONTENT_AWS_ENDPOINT_URL`` (moto in tests) serve S3, SQS and the
event bus alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from platform_api.kernel.events import EventBusSettings


class ContentSettings(EventBusSettings):
    model_config = SettingsConfigDict(env_prefix="CONTENT_", extra="ignore", frozen=True)

    service_name: str = "content"
    # Where POC snapshots come from: the POC service's export API.
    pocs_url: str = Field(
        default="http://127.0.0.1:8102",
        validation_alias=AliasChoices("CONTENT_POCS_URL", "MRBILL_POCS_URL"),
    )
    pocs_timeout_seconds: float = Field(default=10.0, gt=0)
    max_pocs_per_request: int = Field(default=2000, ge=1)
    # Requests waiting or rendering at once: a user's, and an organization's, so that one
    # user's batch of videos cannot hold every other organization's reports in the queue.
    max_active_per_user: int = Field(default=5, ge=1)
    max_active_per_tenant: int = Field(default=20, ge=1)
    # Object storage: a local folder (signed download URLs served by this service) or S3.
    blob_backend: Literal["local", "s3"] = "local"
    blob_dir: str = ".local/objects"
    download_secret: SecretStr = SecretStr("")
    download_secret_file: str = ""
    public_base_url: str = "http://localhost:8080/api/content"
    download_ttl_seconds: int = Field(default=300, ge=10, le=86_400)
    s3_bucket: str = ""
    s3_kms_key_id: str = ""
    # Job queue: Redis Streams locally, SQS in production.
    queue_backend: Literal["memory", "redis", "sqs"] = "redis"
    queue_name: str = "mrbill-content-jobs"
    sqs_queue_url: str = ""
    sqs_dead_letter_url: str = ""
    visibility_timeout_seconds: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, le=50)
    retry_backoff_seconds: float = Field(default=2.0, ge=0)
    # Progress pushed to clients: how long one event stream may stay open.
    events_max_seconds: float = Field(default=900.0, gt=0)
    # Worker: seconds between heartbeats (visibility extension) while rendering.
    heartbeat_seconds: float = Field(default=10.0, gt=0)
    scratch_dir: str = ""  # temporary files; empty: the system's temp folder
    # Erase what identity deletes (organizations, accounts) from the API process: a consumer
    # of the ``identity`` topic on CONTENT_EVENT_BUS (aws: CONTENT_EVENT_QUEUE_URL, a queue
    # subscribed to it). Off only where another process of the service does it.
    run_erasure: bool = True

    @model_validator(mode="after")
    def _production_config(self) -> ContentSettings:
        if self.download_secret_file and not self.download_secret.get_secret_value():
            secret = Path(self.download_secret_file).read_text().strip()
            object.__setattr__(self, "download_secret", SecretStr(secret))
        if self.environment == "production":
            if self.blob_backend != "s3" or not self.s3_bucket:
                raise ValueError("production stores files in S3: set CONTENT_S3_BUCKET")
            if self.queue_backend != "sqs" or not self.sqs_queue_url:
                raise ValueError("production queues jobs in SQS: set CONTENT_SQS_QUEUE_URL")
            if self.run_erasure and (self.event_bus != "aws" or not self.event_queue_url):
                raise ValueError(
                    "production erases from its SQS queue of identity events: set"
                    " CONTENT_EVENT_BUS=aws and CONTENT_EVENT_QUEUE_URL"
                )
        elif self.blob_backend == "local" and not self.download_secret.get_secret_value():
            # Development and tests: a fixed, obviously non-secret key is fine (nothing to protect).
            object.__setattr__(self, "download_secret", SecretStr("development-only-signing-key"))
        return self
