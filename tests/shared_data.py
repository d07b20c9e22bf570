"""Where the public data sets in `../shared/data` are, for tests that reproduce published figures.

Looked up in order: `TENURE_SHARED_DATA`; `shared/data` beside this checkout; and, for a local clone made
elsewhere (say in a temporary directory), `shared/data` beside the checkout it was cloned from.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _origin_checkout() -> Path | None:
    try:
        url = subprocess.run(
            ["git", "-C", str(REPO), "remote", "get-url", "origin"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(url.removeprefix("file://"))
    return path if path.is_absolute() and path.is_dir() else None


def shared_data_dir() -> Path:
    if configured := os.environ.get("TENURE_SHARED_DATA"):
        return Path(configured)
    candidates = [REPO.parent / "shared" / "data"]
    if (origin := _origin_checkout()) is not None:
        candidates.append(origin.resolve().parent / "shared" / "data")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return candidates[0]  # tests then fail naming the expected place
