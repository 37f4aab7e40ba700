"""Building the engine's parts from paths and settings, for the CLI and the window alike.

Nothing here is global: ``app/main.py`` and ``core/cli/main.py`` each build one ``Services`` and
pass its parts on.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from core.config import AppPaths, Settings
from core.models.interface import TextModel
from core.store.clean_close import forget_clean_close
from core.store.database import DatabaseDamaged, ReadOnlyIndex, Store
from core.store.folders import folder_list_path, remembered_folders

log = logging.getLogger(__name__)

ModelLoader = Callable[[Settings, AppPaths], TextModel]


def display_available() -> bool:
    """Whether a window can be shown at all (False on a Linux console or over plain SSH)."""
    if os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal", "vnc")):
        return True
    if sys.platform.startswith(("linux", "freebsd", "openbsd")):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True  # Windows and macOS always have a desktop for a GUI process


def unreachable_display() -> str | None:
    """The display the environment names when nothing answers there (``DISPLAY=:99`` with no
    X server, a Wayland socket that is gone), as ``NAME=value``; None when one answers, or
    when it cannot be told. Qt itself would abort the process on such a display."""
    if os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal", "vnc")):
        return None
    if not sys.platform.startswith(("linux", "freebsd", "openbsd")):
        return None
    wayland = os.environ.get("WAYLAND_DISPLAY", "")
    if wayland:
        runtime = os.environ.get("XDG_RUNTIME_DIR", "")
        if Path(runtime, wayland).exists():  # an absolute WAYLAND_DISPLAY stands alone
            return None
    x11 = os.environ.get("DISPLAY", "")
    if x11 and _x_server_answers(x11):
        return None
    return f"DISPLAY={x11}" if x11 else (f"WAYLAND_DISPLAY={wayland}" if wayland else None)


def _x_server_answers(display: str, timeout: float = 2.0) -> bool:
    """Whether an X server accepts connections at ``display`` (``[host]:number[.screen]``):
    its local socket, or TCP port 6000 + number on a host (an SSH-forwarded display)."""
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit() or host.startswith("/"):
        return True  # a form this check does not know (macOS's launchd path): let Qt try
    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{number}"
        # The file, or Linux's abstract socket of the same name (a server in another mount
        # namespace, such as a sandbox, leaves no file).
        addresses = [path, "\0" + path] if sys.platform.startswith("linux") else [path]
        for address in addresses:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                try:
                    sock.connect(address)
                    return True
                except OSError:
                    continue
        return False
    try:
        socket.create_connection((host, 6000 + int(number)), timeout=timeout).close()
        return True
    except OSError:
        return False


class ModelUnavailable(Exception):
    """The model could not be loaded; the message says why and what to do."""


class DataFolderReadOnly(Exception):
    """Kenning may not write where its index is; the message says what still works."""


def _writable(folder: Path, database: Path) -> bool:
    """Whether Kenning may write its index: the data folder (or, before it exists, the
    nearest folder above it) and the database file, if there is one."""
    existing = next((c for c in (folder, *folder.parents) if c.exists()), folder)
    if not os.access(existing, os.W_OK):
        return False
    return not database.exists() or os.access(database, os.W_OK)


# Room in one embedding pass beyond a chunk: its title and heading path, and the specials.
EMBED_CONTEXT_ALLOWANCE = 128
# Late chunking embeds windows of several chunks in one pass.
LATE_CHUNKING_PASS = 512


def embed_pass_tokens(settings: Settings) -> int:
    """Tokens of one embedding pass: what a chunk needs, no more. A decoder's embed context
    costs about 1 MB per pass token (gemma's 262k-entry vocabulary), and embedding runs as
    fast in passes of one chunk as of two (docs/benchmarks.md, memory while indexing)."""
    needed = settings.chunk_tokens + EMBED_CONTEXT_ALLOWANCE
    return max(needed, LATE_CHUNKING_PASS) if settings.late_chunking else needed


def load_gguf(path: Path, settings: Settings, paths: AppPaths, *,
              trained_head: bool | None = None, trained_reader: bool | None = None,
              reader_adapter: Path | None = None) -> TextModel:
    """One GGUF loaded as the settings ask (threads, embedding pass), its facts cached;
    ``trained_head=False`` embeds with the zero-shot recipe even where Kenning ships a trained
    head for the file that is on by default; ``trained_reader=True`` reads answers with the
    reader Kenning trained for the file even while it is off, and ``reader_adapter`` with a
    LoRA adapter on the reader's context (the benches)."""
    from core.models.llama.unified import UnifiedModel

    return UnifiedModel.load(path, n_threads=settings.threads or None,
                             embed_batch_tokens=embed_pass_tokens(settings),
                             cache_dir=paths.model_cache_dir, trained_head=trained_head,
                             trained_reader=trained_reader, reader_adapter=reader_adapter)


def load_default_or_chosen_model(settings: Settings, paths: AppPaths, *,
                                  trained_reader: bool | None = None,
                                  reader_adapter: Path | None = None) -> TextModel:
    """The user's chosen GGUF, or the bundled default model; paired with a separate embedder
    when ``settings.embedding_model_path`` names one (the model then only writes answers).
    ``trained_reader`` and ``reader_adapter``: as ``load_gguf``'s."""
    from core.models.default_model import DefaultModelError, default_model_path
    from core.models.embed_head import EmbedHeadError
    from core.models.reader_head import ReaderHeadError

    # The embedder's file is checked before anything loads, so a bad setting costs nothing.
    embedder_path = _chosen_embedder(settings)
    path = Path(settings.model_path).expanduser() if settings.model_path else None
    if path is None:
        try:
            path = default_model_path(paths.models_dir)
        except DefaultModelError as exc:  # e.g. a full disk: no room to unpack it
            raise ModelUnavailable(str(exc)) from exc
    else:
        _check_chosen_model(path)
    try:
        model = load_gguf(path, settings, paths, trained_reader=trained_reader,
                          reader_adapter=reader_adapter)
    except (EmbedHeadError, ReaderHeadError) as exc:
        # Kenning's own file, not the model's: another model won't help
        raise ModelUnavailable(str(exc)) from exc
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelUnavailable(
            f"Could not load the model {path}: {str(exc).rstrip('.')}. Choose another GGUF file "
            "in the settings (or `kenning --model PATH`), or remove the setting to use the "
            "bundled model."
        ) from exc
    if embedder_path is None or embedder_path.resolve() == path.resolve():
        return model  # the same file in both roles is one model doing both
    try:
        embedder = load_gguf(embedder_path, settings, paths)
    except (OSError, ValueError, RuntimeError) as exc:
        model.close()
        raise ModelUnavailable(
            f"Could not load the embedding model {embedder_path}: {exc}. {_EMBEDDER_WAY_OUT}"
        ) from exc
    from core.models.paired import PairedModel

    return PairedModel(embedder=embedder, chat=model)


# How to get back to one model when the separate embedder cannot be used.
_EMBEDDER_WAY_OUT = (
    "Choose another file with `kenning model use-embedder PATH`, or go back to one model "
    "for search and answers with `kenning model use-embedder --none` (this clears "
    "the embedding_model_path setting)."
)


def _chosen_embedder(settings: Settings) -> Path | None:
    if not settings.embedding_model_path:
        return None
    from core.models.check import UnusableModel, check_model

    path = Path(settings.embedding_model_path).expanduser()
    try:
        check_model(path)
    except UnusableModel as exc:
        raise ModelUnavailable(f"The embedding model cannot be used: {exc} "
                               f"{_EMBEDDER_WAY_OUT}") from exc
    return path


def _check_chosen_model(path: Path) -> None:
    """Refuse a chosen file llama.cpp would fail on (or crash with), in plain words."""
    from core.models.check import UnusableModel, check_model

    try:
        check_model(path)
    except UnusableModel as exc:
        raise ModelUnavailable(
            f"{exc} Choose another GGUF file in the settings (or `kenning model use PATH`), "
            "or remove the setting to use the bundled model."
        ) from exc


@dataclass
class Services:
    paths: AppPaths
    settings: Settings
    model_loader: ModelLoader = load_default_or_chosen_model
    _model: TextModel | None = field(default=None, init=False)
    _search_model: TextModel | None = field(default=None, init=False)
    notices: list[str] = field(default_factory=list, init=False)

    def open_store(self, read_only_ok: bool = False) -> Store:
        """The writer store. A damaged database is moved aside and a fresh one started with
        the same folders (kept beside it for this), so the next indexing pass rebuilds it.
        With ``read_only_ok`` (commands that only read), a data folder Kenning may not write
        is read as it is; otherwise it raises DataFolderReadOnly."""
        database = self.paths.database
        if not _writable(self.paths.data_dir, database):
            if not read_only_ok:
                raise DataFolderReadOnly(
                    f"Kenning cannot write to its data folder {self.paths.data_dir} (it is "
                    "read-only), so it cannot change the index; searching and `kenning "
                    "status` still work. Make the folder writable, or choose another with "
                    "--home (or KENNING_HOME).")
            try:
                return Store.open_read_only(database)
            except ReadOnlyIndex as exc:
                raise DataFolderReadOnly(
                    f"Kenning cannot write to its data folder {self.paths.data_dir} (it is "
                    f"read-only) and cannot read the index there: {exc}. Make the folder "
                    "writable, or choose another with --home (or KENNING_HOME).") from exc
        self.paths.ensure()
        try:
            return Store.open(database)
        except DatabaseDamaged as exc:
            return self.start_again(str(exc))

    def start_again(self, reason: str, damaged: Store | None = None) -> Store:
        """The database is damaged (``reason``): move it aside (closing ``damaged``, the store
        that found out, first) and start a new one with the same folders, with a notice."""
        database = self.paths.database
        if damaged is not None:
            damaged.conn.close()  # not ``close()``: a damaged file is never noted clean
        forget_clean_close(database)
        folders = remembered_folders(database)
        aside = database.with_name(f"kenning-damaged-{time.strftime('%Y%m%d-%H%M%S')}.db")
        for suffix in ("", "-wal", "-shm"):
            source = Path(str(database) + suffix)
            if source.exists():
                os.replace(source, Path(str(aside) + suffix))
        # The folder list goes with it: it belongs to the damaged file, and a new file beside
        # a list of folders would look like one that lost its contents.
        listed = folder_list_path(database)
        if listed.exists():
            os.replace(listed, folder_list_path(aside))
        store = Store.open(database)
        for folder in folders:
            store.folders.add(Path(folder.path), folder.priority)
            store.folders.set_ocr(Path(folder.path), folder.ocr)
        again = (
            f"Your {len(folders)} folder(s) will be indexed again."
            if folders
            else "Add your folders again to index them."
        )
        self.notices.append(
            f"The index database was damaged ({reason}), so it was moved to {aside} and a "
            f"new one was started. {again} Your files themselves are untouched."
        )
        log.warning(self.notices[-1])
        return store

    @property
    def model(self) -> TextModel:
        if self._model is None:
            self._model = self.model_loader(self.settings, self.paths)
        return self._model

    def search_model(self, store: Store) -> TextModel:
        """The model search and answers use: ``model``, or right after a switch of model,
        one that searches the previous model's fuller vectors (``core/search/handover.py``)."""
        if self._search_model is None:
            from core.search.handover import with_previous_vectors

            self._search_model = with_previous_vectors(
                store, self.model, self.load_for_queries,
                partial(self.load_for_queries, trained_head=False))
        return self._search_model

    def load_for_queries(self, path: Path, trained_head: bool | None = None) -> TextModel:
        """Load a second model beside ``model`` to embed queries, when memory allows."""
        from core.models.check import memory_needed, total_ram

        # Two models at once: the second may take at most half of the machine. (This file
        # made vectors before, so the full check_model, seconds for a large vocabulary, is
        # not repeated.)
        if memory_needed(path.stat().st_size) > (total_ram() or 2**62) // 2:
            raise ModelUnavailable(f"{path.name} is too large to load beside the new model.")
        return load_gguf(path, self.settings, self.paths, trained_head=trained_head)

    def close(self) -> None:
        if self._search_model is not None and self._search_model is not self._model:
            self._search_model.close()
        self._search_model = None
        if self._model is not None:
            self._model.close()
            self._model = None
