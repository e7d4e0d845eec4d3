"""Configuration: every knob comes from the environment (or `.env`) with a safe default."""

from __future__ import annotations

import ipaddress
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ConfigError(SystemExit):
    """Raised instead of a traceback: one clear line naming the variable at fault."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # Stores. No MONGODB_URL starts the embedded MongoDB-compatible server as a child process;
    # no REDIS_URL falls back to the in-memory bus and in-process queue (zero-config only).
    mongodb_url: str | None = None
    mongodb_db: str = Field("pricing", pattern=r"^[A-Za-z0-9_-]{1,63}$")
    mongodb_timeout_ms: int = Field(3000, ge=100, le=60_000)
    embedded_data_file: Path | None = None
    redis_url: str | None = None
    redis_prefix: str = Field("pricing", pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    bus_stream_maxlen: int = Field(10_000, ge=100)

    # AI
    openai_api_key: SecretStr | None = None
    openai_model: str = "gpt-4.1-mini"
    openai_base_url: str | None = None  # any OpenAI-compatible server
    openai_embedding_model: str = "text-embedding-3-small"
    openai_timeout_seconds: float = Field(60.0, gt=0)
    openai_max_retries: int = Field(3, ge=0, le=10)  # on 429 and 5xx, with backoff
    # Estimated USD per million tokens, for the usage report (defaults: gpt-4.1-mini's list).
    openai_input_usd_per_million: float = Field(0.40, ge=0)
    openai_output_usd_per_million: float = Field(1.60, ge=0)
    rate_limit_ai_requests_per_minute: int = Field(20, ge=1)
    vector_store: str = Field("local", pattern=r"^(local|openai)$")
    # Outbound HTTP (documentation fetches): timeouts, size limit, and the hosts allowed
    # even on private, loopback or link-local addresses (none by default).
    outbound_allow_hosts: Annotated[list[str], NoDecode] = []
    outbound_timeout_seconds: float = Field(20.0, gt=0)
    max_file_size_mb: int = Field(50, ge=1, le=1024)

    # Security. A random JWT secret is safe (tokens just do not outlive the process);
    # production sets one so that every API process accepts the same tokens.
    jwt_secret: SecretStr = Field(
        default_factory=lambda: SecretStr(secrets.token_urlsafe(48)), min_length=32
    )
    # The windows the plan quotas apply to (requests per minute, expensive work per hour).
    request_window_seconds: float = Field(60.0, gt=0)
    expensive_window_seconds: float = Field(3600.0, gt=0)
    login_attempts_per_account: int = Field(10, ge=1)  # per 15 minutes
    login_attempts_per_ip: int = Field(30, ge=1)  # per minute
    access_token_ttl: int = Field(900, ge=60, le=86_400)
    refresh_token_ttl: int = Field(30 * 86_400, ge=3600)
    # AES-256-GCM keys for tenant credentials, "kid:base64key,..." (first encrypts).
    credential_keys: SecretStr | None = None
    demo_tenant: str = Field("demo", pattern=r"^[a-z0-9-]{1,40}$")
    cors_origins: Annotated[list[str], NoDecode] = []
    # Proxies whose X-Forwarded-For is believed, as addresses or CIDR networks (none by
    # default: the client address is the connection's peer, so it cannot be forged).
    trusted_proxies: Annotated[list[str], NoDecode] = []
    graphiql: bool = True
    introspection: bool = True
    max_query_depth: int = Field(12, ge=2, le=50)
    max_aliases: int = Field(30, ge=1)
    max_tokens: int = Field(5000, ge=100)
    max_query_fields: int = Field(2000, ge=100)  # fields selected once fragments are expanded
    max_request_bytes: int = Field(1_048_576, ge=1024)  # JSON bodies; uploads have tier limits
    max_json_depth: int = Field(64, ge=8, le=500)  # nesting of a request's JSON

    # Serving and jobs
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    log_level: str = Field("info", pattern=r"^(debug|info|warning|error)$")
    run_lease_seconds: float = Field(15.0, gt=0)  # a worker silent this long is presumed dead
    run_reaper_seconds: float = Field(5.0, gt=0)  # how often orphaned runs are looked for
    experiment_engine_seconds: float = Field(30.0, gt=0)  # flush, recompute, auto-stop
    run_retry_backoff_seconds: float = Field(0.5, ge=0)  # first retry delay; doubles
    max_runs_per_tenant: int = Field(3, ge=1)
    job_poll_delay: float = Field(0.1, gt=0, le=5)
    worker_max_jobs: int = Field(10, ge=1)

    # Reports: where download links point, how long they work, how scheduled reports due at
    # the same minute are spread out, and the SMTP server that delivers them (as the seeds').
    public_url: str = "http://127.0.0.1:8000"
    report_link_seconds: int = Field(7 * 86_400, ge=60)
    report_stagger_seconds: float = Field(2.0, ge=0)
    smtp_host: str = "localhost"
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_pass: SecretStr | None = None
    smtp_from: str = "reports@localhost"
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(30.0, gt=0)
    smtp_attempts: int = Field(3, ge=1, le=10)  # per recipient, within one delivery
    smtp_retry_seconds: float = Field(5.0, ge=0)  # first retry delay; doubles

    @field_validator("cors_origins", "outbound_allow_hosts", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        entries = [e.strip() for e in value.split(",")] if isinstance(value, str) else value
        if not isinstance(entries, list):
            return value
        try:
            return [str(ipaddress.ip_network(e.strip(), strict=False)) for e in entries if e]
        except (TypeError, ValueError):
            raise ValueError("must list IP addresses or CIDR networks, comma-separated") from None

    @field_validator("mongodb_url")
    @classmethod
    def _mongo_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("mongodb://", "mongodb+srv://")):
            raise ValueError("must start with mongodb:// or mongodb+srv://")
        return value or None

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value or None


def describe(error: ValidationError) -> str:
    """The variable and the rule it breaks, never its value: values are often secrets (a
    JWT secret, a password inside a URL), and pydantic's own message would quote them."""
    first = error.errors()[0]
    name = ".".join(str(part) for part in first["loc"]).upper() or "settings"
    return f"configuration error: {name}: {first['msg']}"


@lru_cache
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        raise ConfigError(describe(error)) from None
