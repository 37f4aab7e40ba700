"""The wheel users install is complete: every package of the source tree, and every file of
resources/ (the catalogue, icons, sample documents), where core/resources.py looks for them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT),
                    "-w", str(out)], check=True, capture_output=True, timeout=600)
    [wheel] = out.glob("kenning-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def _tracked(folder: str) -> list[str]:
    listed = subprocess.run(["git", "ls-files", folder], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split()
    return listed or [p.relative_to(ROOT).as_posix() for p in (ROOT / folder).rglob("*")
                      if p.is_file() and "__pycache__" not in p.parts]


def test_every_module_is_in_the_wheel(wheel_names: set[str]) -> None:
    modules = [name for name in _tracked("core") + _tracked("app") if name.endswith(".py")]
    assert modules and [m for m in modules if m not in wheel_names] == []


def test_every_resource_is_in_the_wheel_where_the_code_looks(wheel_names: set[str]) -> None:
    resources = _tracked("resources")
    assert "resources/models.json" in resources
    installed = {"core/resource_files/" + name.removeprefix("resources/") for name in resources}
    assert sorted(installed - wheel_names) == []


def test_no_dependency_ships_a_core_or_app_package() -> None:
    """Kenning's import names are its own in the environments it supports (docs/install.md):
    nothing it depends on (nor its test tools) installs a top-level ``core`` or ``app``."""
    from importlib import metadata

    claimants = []
    for dist in metadata.distributions():
        if (dist.metadata["Name"] or "").lower() == "kenning":
            continue
        for file in dist.files or []:
            parts = file.parts
            if parts and parts[0] in ("core", "app") and len(parts) > 1:
                claimants.append(f"{dist.metadata['Name']}: {file}")
    assert claimants == []
