"""Every setting of the gateway, read from the environment in one place."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Comma-separated in the environment ("a.example,b.example"), not JSON.
NameList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """The gateway's configuration; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "GATEWAY_DATABASE_URL"),
        description="postgresql+psycopg URL; unset: an embedded Postgres in data_dir",
    )
    data_dir: Path = Field(default=Path(".gateway-data"), description="embedded Postgres files")
    admin_token: SecretStr | None = Field(default=None, description="bearer secret for every call")
    host: str = "127.0.0.1"
    port: int = 8000
    max_batch_rows: int = Field(default=10_000, ge=1)
    max_page_size: int = Field(default=1_000, ge=1)
    future_tolerance_seconds: int = Field(default=300, ge=0)
    db_pool_size: int = Field(default=10, ge=1)
    alert_interval: float = Field(default=30.0, description="seconds between alert evaluations")
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_attempts: int = Field(default=3, ge=1)
    webhook_backoff_seconds: float = Field(default=1.0, ge=0)
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    retention_days: int | None = Field(default=None, ge=1, description="raw fact rows kept")
    rollup_retention_days: int | None = Field(default=None, ge=1, description="rollups kept")
    maintenance_interval_seconds: int = Field(default=3600, ge=1)
    compaction_interval_seconds: float = Field(
        default=30.0, gt=0, description="how often appended rollup rows are folded"
    )
    db_statement_timeout_ms: int = Field(default=5_000, ge=0)
    db_pool_timeout_seconds: float = Field(default=2.0, gt=0)
    max_request_connections: int = Field(default=4, ge=1)
    max_depth: int = Field(default=12, ge=1)
    max_aliases: int = Field(default=30, ge=0)
    max_tokens: int = Field(default=5_000, ge=1)
    max_cost: int = Field(default=10_000, ge=1)
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1)
    offload_body_bytes: int = Field(default=256 * 1024, ge=0)
    rate_limit_per_second: float = Field(default=50.0, gt=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    token_cache_seconds: float = Field(
        default=1.0, ge=0, description="how long an API token read is reused (0: never)"
    )
    allowed_hosts: NameList = Field(default_factory=list)
    allowed_origins: NameList = Field(default_factory=list)
    introspection: bool = True
    graphiql: bool = True
    persisted_only: bool = False
    ingest_concurrency: int = Field(default=4, ge=1)

    @field_validator("allowed_hosts", "allowed_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """GATEWAY_ALLOWED_HOSTS=a,b is the list [a, b]."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator(
        "database_url", "admin_token", "retention_days", "rollup_retention_days", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """An empty environment variable means the setting is not set."""
        return None if isinstance(value, str) and not value.strip() else value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
