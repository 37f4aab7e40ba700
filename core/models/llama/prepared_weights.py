"""A small model's Q5_0 layers widened to Q8_0 once, kept beside the other model caches.

llama.cpp's CPU backend has fast kernels for Q8_0 and repacks Q4_0/Q4_K matrices, but reads
Q5_0 through its generic path; gemma-3-270m, the bundled model, keeps most of its layers in
Q5_0 (their width, 640, does not fit K-quant blocks). Widening loses nothing: a Q5_0 weight is a
5-bit integer times its block's scale, and a Q8_0 block holds that integer and scale exactly.
Reading a prompt then takes about 13% less time (most of the wait for an answer's first word)
and embedding about 10% (docs/benchmarks.md, what the prepared weights gain).

Writing a reply reads every weight once per token, so it is bound by memory: wider weights
would slow it. A model is therefore prepared only when widening adds little to what each token
reads (``MAX_GROWTH`` of the file; gemma-3-270m grows 9.5%, its 262k-entry vocabulary table
dominating, and writes as fast as before) and it is under ``MAX_PREPARED_BYTES``. The vocabulary
table itself is never widened. The copy is
named by the source's fingerprint, written under a temporary name and renamed when complete,
only where it leaves the disk room to spare (the index comes first), and anything that goes
wrong leaves the original to be loaded as it is.

>>> weights = prepared_weights(Path("gemma-3-270m-q4_k_m.gguf"), cache_dir)  # the file to load
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from core.models.llama.bindings import gguf_can_rewrite, gguf_meta_bytes
from core.models.llama.gguf_header import (
    HeaderUnreadable,
    file_fingerprint,
    ggml_library,
    opened_table,
)

log = logging.getLogger(__name__)

MAX_PREPARED_BYTES = 1 << 30
#: Widening may add at most this share of the file's size.
MAX_GROWTH = 0.15
#: Free space a copy must leave on its disk: the index and its journal need room to grow more.
SPARE_DISK_BYTES = 2 << 30
#: Prepared copies kept: the model in use and the one before it (a model switch back is free).
KEEP_COPIES = 2
_SUFFIX = ".q5-as-q8.gguf"

# enum ggml_type (ggml/include/ggml.h) and the two block layouts (ggml-common.h), 32 weights each
_Q5_0, _Q8_0 = 6, 8
_Q5_0_BYTES, _Q8_0_BYTES = 22, 34  # f16 scale + 32 high bits + 16 nibble pairs; f16 + 32 int8
_LAYER_PREFIX = b"blk."
_COPY_STEP = 16 << 20
#: A partial copy this old was left by a process that stopped while writing it.
_ABANDONED_SECONDS = 600


def prepared_weights(path: Path, cache_dir: Path) -> Path:
    """The file to load for ``path``: its prepared copy when that is worth having (made now if
    missing), else ``path`` itself. Never raises: a copy that cannot be made is skipped."""
    try:
        size = path.stat().st_size
        if size > MAX_PREPARED_BYTES:
            return path
        target = cache_dir / f"{path.stem}.{file_fingerprint(path)}{_SUFFIX}"
        if target.is_file():
            os.utime(target)  # most recently used: kept by the pruning below
            return target
        library = ggml_library()
        if library is None or not gguf_can_rewrite(library):
            return path
        cache_dir.mkdir(parents=True, exist_ok=True)
        if shutil.disk_usage(cache_dir).free < size * (1 + MAX_GROWTH) + SPARE_DISK_BYTES:
            return path
        if not _write_widened(library, path, size, target):
            return path
        _prune(cache_dir)
        return target
    except (OSError, HeaderUnreadable, ValueError) as exc:
        log.warning("Could not prepare a faster copy of %s (%s); loading it as it is.",
                    path.name, exc)
        return path


def discard(weights: Path) -> None:
    """Remove a prepared copy that llama.cpp refused, so the next start makes it again."""
    if weights.name.endswith(_SUFFIX):
        weights.unlink(missing_ok=True)


def widen_q5_0(raw: bytes) -> bytes:
    """Q5_0 blocks as Q8_0 blocks holding the same values (scale kept, integers re-centred)."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _Q5_0_BYTES)
    high_bits = blocks[:, 2:6].copy().view("<u4")  # bit k is the fifth bit of weight k
    fifth = ((high_bits >> np.arange(32, dtype=np.uint32)) & 1).astype(np.uint8) << 4
    nibbles = blocks[:, 6:]  # byte j: weight j in its low half, weight j + 16 in its high half
    unsigned = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1) | fifth
    widened = np.empty((len(blocks), _Q8_0_BYTES), dtype=np.uint8)
    widened[:, :2] = blocks[:, :2]
    widened[:, 2:] = (unsigned.astype(np.int16) - 16).astype(np.int8).view(np.uint8)
    return widened.tobytes()


def _write_widened(lib: Any, source: Path, size: int, target: Path) -> bool:
    """Write ``target`` with ``source``'s layer Q5_0 tensors as Q8_0; False when it has none,
    or so many that the copy would be slower to write replies with."""
    with opened_table(lib, source) as table:
        data_start = int(lib.gguf_get_data_offset(table))
        count = int(lib.gguf_get_n_tensors(table))
        before = [(int(lib.gguf_get_tensor_offset(table, i)),
                   int(lib.gguf_get_tensor_size(table, i))) for i in range(count)]
        widened: set[int] = set()
        for i in range(count):
            name = lib.gguf_get_tensor_name(table, i) or b""
            if lib.gguf_get_tensor_type(table, i) == _Q5_0 and name.startswith(_LAYER_PREFIX):
                lib.gguf_set_tensor_type(table, name, _Q8_0)  # moves the later offsets too
                widened.add(i)
        growth = sum(before[i][1] for i in widened) * (_Q8_0_BYTES / _Q5_0_BYTES - 1)
        if not widened or growth > MAX_GROWTH * size:
            return False
        meta = gguf_meta_bytes(lib, table)
        after = [int(lib.gguf_get_tensor_offset(table, i)) for i in range(count)]
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as out, source.open("rb") as src:
            out.write(meta)
            for i, ((offset, length), new_offset) in enumerate(zip(before, after, strict=True)):
                gap = len(meta) + new_offset - out.tell()
                if gap < 0:
                    raise ValueError("the tensor table does not match its data")
                out.write(bytes(gap))  # alignment padding
                src.seek(data_start + offset)
                if i in widened:
                    out.write(widen_q5_0(_read_exactly(src, length)))
                else:
                    _copy(src, out, length)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return True


def _read_exactly(src: BinaryIO, size: int) -> bytes:
    data = src.read(size)
    if len(data) != size:
        raise ValueError("the file ends inside its weights")
    return data


def _copy(src: BinaryIO, out: BinaryIO, size: int) -> None:
    while size:
        step = min(size, _COPY_STEP)
        out.write(_read_exactly(src, step))
        size -= step


def _prune(cache_dir: Path) -> None:
    copies = sorted(cache_dir.glob(f"*{_SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)
    abandoned = [p for p in cache_dir.glob(f"*{_SUFFIX}*.partial")
                 if time.time() - p.stat().st_mtime > _ABANDONED_SECONDS]
    for old in copies[KEEP_COPIES:] + abandoned:
        # A copy still mapped by another Kenning process (Windows) goes next time.
        with contextlib.suppress(OSError):
            old.unlink()

