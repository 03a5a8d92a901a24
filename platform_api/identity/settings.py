"""Identity service settings (environment variables prefixed ``IDENTITY_``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from platform_api.kernel.events import EventBusSettings


class IdentitySettings(EventBusSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore", frozen=True)

    service_name: str = "identity"
    consumes_events: ClassVar[bool] = False  # it publishes (deletions) and reads nothing
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    refresh_token_ttl_days: int = Field(default=30, ge=1, le=365)
    # A refresh token presented again this soon after its use is a race of the same client
    # (two tabs, a reload mid-refresh), not a replay: no family revocation. 0 turns it off.
    refresh_reuse_grace_seconds: int = Field(default=20, ge=0, le=120)
    invitation_ttl_days: int = Field(default=7, ge=1, le=60)
    # Publish the outbox (deletions other services must erase) from this process; it connects
    # as the owner role (``migrations_database_url``). Several processes may relay at once.
    run_relay: bool = True
    # Ed25519 private key (PEM). Development and tests may leave it empty: a throwaway key is made.
    jwt_private_key: SecretStr = SecretStr("")
    jwt_private_key_file: str = ""
    # Public keys (PEM, concatenated) still published in the JWKS after a rotation.
    jwt_previous_public_keys: str = ""
    # Key of the HMAC that turns e-mail addresses into login-directory digests.
    email_digest_key: SecretStr = SecretStr("")
    # Keys (Fernet, comma-separated: the first encrypts, every one decrypts, for rotation)
    # that encrypt the authenticator secrets of two-step verification. Development and
    # tests may leave it empty: a fixed development key is used.
    two_factor_keys: SecretStr = SecretStr("")
    # A log-in whose password was right waits this long for its code.
    two_factor_challenge_seconds: int = Field(default=300, ge=60, le=900)
    # Code checks per account and password, besides the per-minute log-in budget: six
    # digits must not be guessed for days on end by someone who has the password (a new
    # password starts a new budget).
    two_factor_codes_per_day: str = "50/day"
    login_rate_per_account: str = "10/minute"
    login_rate_per_address: str = "60/minute"
    signup_rate_per_address: str = "20/hour"
    rate_limit_prefix: str = "mrbill-identity"
    argon2_time_cost: int = Field(default=2, ge=2)
    argon2_memory_kib: int = Field(default=19456, ge=19456)
    argon2_parallelism: int = Field(default=1, ge=1)
    public_base_url: str = "http://localhost:8080"
    # Password resets: a one-time link by e-mail, valid this long. "folder" writes each
    # message to IDENTITY_MAIL_FOLDER as an .eml file (local stack, tests); "ses" sends it
    # with Amazon SES from IDENTITY_MAIL_FROM (a verified identity) in IDENTITY_AWS_REGION.
    mail: Literal["folder", "ses"] = "folder"
    mail_folder: str = ".local/mail"
    mail_from: str = "Mr Bill <no-reply@mrbill.dev>"
    password_reset_ttl_minutes: int = Field(default=60, ge=5, le=1440)
    reset_rate_per_address: str = "20/hour"
    reset_rate_per_account: str = "5/hour"
    refresh_cookie_name: str = "mrbill_refresh"
    cookie_secure: bool = False

    @model_validator(mode="after")
    def _secrets_required_in_production(self) -> IdentitySettings:
        if self.environment == "production":
            if not (self.jwt_private_key.get_secret_value() or self.jwt_private_key_file):
                raise ValueError("IDENTITY_JWT_PRIVATE_KEY is required in production")
            if not self.email_digest_key.get_secret_value():
                raise ValueError("IDENTITY_EMAIL_DIGEST_KEY is required in production")
            if not self.two_factor_keys.get_secret_value():
                raise ValueError("IDENTITY_TWO_FACTOR_KEYS is required in production")
            if not self.cookie_secure:
                raise ValueError("IDENTITY_COOKIE_SECURE must be true in production")
            if not (self.run_relay and self.migrations_database_url):
                raise ValueError(
                    "production relays deletions for erasure: set"
                    " IDENTITY_MIGRATIONS_DATABASE_URL (and keep IDENTITY_RUN_RELAY on)"
                )
            if not self.public_base_url.startswith("https://"):
                raise ValueError(
                    "IDENTITY_PUBLIC_BASE_URL must be the site's https:// address in production"
                    " (links in e-mail point there)"
                )
            if self.mail != "ses":
                raise ValueError("production sends e-mail with SES: set IDENTITY_MAIL=ses")
            if self.event_bus == "aws" and "identity" not in self.event_topic_arns:
                raise ValueError('IDENTITY_EVENT_TOPIC_ARNS needs {"identity": "arn:aws:sns:…"}')
        return self
