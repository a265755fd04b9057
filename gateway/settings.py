"""Every setting of the gateway, read from the environment in one place."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1)
    ingest_concurrency: int = Field(default=4, ge=1)

    @field_validator("database_url", "admin_token", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """An empty environment variable means the setting is not set."""
        return None if isinstance(value, str) and not value.strip() else value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
