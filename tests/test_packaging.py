"""The wheel ships the web UI, and an installed copy finds it (not only a source checkout)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds and installs a wheel

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contains_the_ui_and_the_installed_package_serves_it(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("mailtrap_lite-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    shipped = {
        path.relative_to(ROOT / "static").as_posix()
        for path in (ROOT / "static").rglob("*")
        if path.is_file()
    }
    assert "index.html" in shipped
    assert {f"mailtrap_lite/static/{name}" for name in shipped} <= names
    assert any(name.endswith("entry_points.txt") for name in names)

    # Run from the unpacked wheel, away from the checkout: static_dir() must point inside the package.
    found = subprocess.run(
        [sys.executable, "-c", "from mailtrap_lite.web.ui import static_dir; print(static_dir())"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "site")},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    assert Path(found) == tmp_path / "site" / "mailtrap_lite" / "static"
    assert (Path(found) / "index.html").read_bytes() == (ROOT / "static" / "index.html").read_bytes()
