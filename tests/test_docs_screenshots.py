"""docs/screenshots.py, which the README says regenerates its screenshots, still runs and makes them all."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.browser import CHROMIUM

pytestmark = pytest.mark.slow  # Chromium

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM}")
def test_the_screenshot_script_makes_every_screenshot_the_readme_shows(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    shown = set(re.findall(r"docs/screenshots/([\w-]+\.png)", readme))
    assert shown
    assert shown <= {path.name for path in (ROOT / "docs" / "screenshots").glob("*.png")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "screenshots.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    made = {path.name for path in tmp_path.glob("*.png")}
    assert shown <= made, shown - made
    assert all(path.stat().st_size > 5000 for path in tmp_path.glob("*.png"))
