"""Remake the pictures of docs/ui.md: runs the screenshots test of the browser suite with
its output pointed at docs/ui (the suite itself writes them to a temporary directory, so a
test run never changes the tree). Needs chromium, as the page tests do.

    python bench/screenshots.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    env = {**os.environ, "B24TEL_SCREENSHOTS": str(ROOT / "docs" / "ui"),
           "B24TEL_REQUIRE_BROWSER": "1"}  # fmt: skip
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "tests/web/test_browser.py", "-k", "screenshots"]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, check=False)
    if done.returncode == 0:
        print(
            f"docs/ui remade: {', '.join(sorted(p.name for p in (ROOT / 'docs/ui').glob('*.png')))}"
        )
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
