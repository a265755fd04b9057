"""GraphiQL's browser files, taken from their npm packages at install time.

`make install` (and CI) runs ``python -m gateway.assets``: it asks npm for the
pinned package tarballs (`npm pack`, the registry's ordinary client) and
copies the few prebuilt browser files the page needs into
gateway/static/vendor/, which ships as package data. Nothing is fetched at
run time, so GraphiQL works on a machine without internet.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).parent / "static" / "vendor"

# npm package spec -> {file inside the package: file name served under /assets/vendor/}
PACKAGES: dict[str, dict[str, str]] = {
    "react@18.3.1": {"umd/react.production.min.js": "react.production.min.js"},
    "react-dom@18.3.1": {"umd/react-dom.production.min.js": "react-dom.production.min.js"},
    "graphiql@3.8.3": {
        "graphiql.min.js": "graphiql.min.js",
        "graphiql.min.css": "graphiql.min.css",
    },
    "@graphiql/plugin-explorer@1.0.2": {
        "dist/index.umd.js": "graphiql-plugin-explorer.umd.js",
        "dist/style.css": "graphiql-plugin-explorer.css",
    },
    "graphql-ws@5.16.0": {"umd/graphql-ws.min.js": "graphql-ws.min.js"},
}


def missing() -> list[str]:
    """Vendor files not yet in place."""
    wanted = [name for files in PACKAGES.values() for name in files.values()]
    return [name for name in wanted if not (VENDOR / name).is_file()]


def _unpack(spec: str, files: dict[str, str], workdir: Path) -> None:
    packed = subprocess.run(
        ["npm", "pack", spec, "--silent", "--pack-destination", str(workdir)],
        check=True,
        capture_output=True,
        text=True,
    )
    tarball = workdir / packed.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as archive:
        for inner, served in files.items():
            source = archive.extractfile(f"package/{inner}")
            if source is None:
                raise FileNotFoundError(f"{spec} has no {inner}")
            with source, (VENDOR / served).open("wb") as target:
                shutil.copyfileobj(source, target)


def install() -> None:
    """Fetch every pinned package that is missing a file and copy its files into VENDOR."""
    if not missing():
        return
    if shutil.which("npm") is None:
        raise SystemExit("npm is needed once to fetch GraphiQL's browser files (apt install npm)")
    VENDOR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as workdir:
        for spec, files in PACKAGES.items():
            if any(not (VENDOR / name).is_file() for name in files.values()):
                _unpack(spec, files, Path(workdir))
    sys.stderr.write(f"GraphiQL browser files are in {VENDOR}\n")


if __name__ == "__main__":
    install()
