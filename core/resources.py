"""Where Kenning's own files are (the model catalogue, icons, sample documents): the one way
every part of Kenning finds them, installed, frozen or run from a source checkout.

    resource("models.json")                  # the catalogue
    resource("samples", "documents")         # the sample documents folder

In the source tree they live in the top-level ``resources/`` folder; a wheel installs that
folder as the package ``core.resource_files`` (pyproject.toml), read through
importlib.resources; a frozen bundle carries it as ``<bundle>/resources``.
"""

from __future__ import annotations

import hashlib
import sys
from importlib import resources as package_files
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[1] / "resources"


def resource(*parts: str) -> Path:
    """The path of a file or folder of Kenning's resources (it may not exist: callers that
    can do without, such as the samples, check)."""
    return resource_root().joinpath(*parts)


def resource_root() -> Path:
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen is not None:
        return Path(frozen) / "resources"
    if _CHECKOUT.is_dir():
        return _CHECKOUT
    # Installed from a wheel: a real folder in site-packages (wheels are unpacked). Asked of
    # ``core`` itself: the data folder has no __init__.py, so it is a namespace package.
    return Path(str(package_files.files("core") / "resource_files"))


def checked_bytes(path: Path, sha256: str, what: str, fix: str,
                  error: type[Exception]) -> bytes:
    """The bytes of a file Kenning ships with a known checksum (a trained head), read once;
    ``error`` with a message naming ``what`` and ending with ``fix`` when the file cannot be
    read or is not the one Kenning was built with."""
    try:
        data = path.read_bytes()
    except OSError as problem:
        raise error(f"{what} {path.name} could not be read "
                    f"({problem.strerror or problem}). {fix}") from problem
    if hashlib.sha256(data).hexdigest() != sha256:
        raise error(f"{what} {path.name} is damaged or has been changed (its checksum does "
                    f"not match). {fix}")
    return data
