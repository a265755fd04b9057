"""The admin secret of a gateway started without GATEWAY_ADMIN_TOKEN: created on
first start, saved with mode 0600 in GATEWAY_DATA_DIR, reused afterwards."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from gateway.settings import Settings

FILE_NAME = "admin-token"


def admin_secret_file(settings: Settings) -> Path:
    """Where the generated admin secret is kept."""
    return settings.data_dir / FILE_NAME


def ensure_admin_secret(settings: Settings) -> tuple[Settings, str | None]:
    """Settings with an admin secret, and the secret when it was created just now
    (to be printed once); settings unchanged when GATEWAY_ADMIN_TOKEN is set."""
    if settings.admin_token is not None:
        return settings, None
    path = admin_secret_file(settings)
    created = None
    if path.exists():
        secret = path.read_text().strip()
    else:
        secret = created = secrets.token_urlsafe(32)
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL with 0600: the file never exists with wider permissions.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secret + "\n")
    return settings.model_copy(update={"admin_token": SecretStr(secret)}), created
