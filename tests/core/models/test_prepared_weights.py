"""A small model's Q5_0 layers are widened to Q8_0 once and loaded from that copy: the same
weights exactly, the same model to the index, and never a reason for a load to fail."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import gguf
import numpy as np
import pytest

from core.models.llama import prepared_weights as prepared
from core.models.llama.prepared_weights import prepared_weights
from core.models.llama.unified import UnifiedModel
from tests.gguf_factory import write_tiny_gguf

Q = gguf.GGMLQuantizationType
model_test = pytest.mark.model


@pytest.fixture(autouse=True)
def any_free_disk_will_do(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 2 GB kept free for the index is not the subject here (one test sets it itself)."""
    monkeypatch.setattr(prepared, "SPARE_DISK_BYTES", 0)


def write_quantized_gguf(path: Path, name: str = "tiny quantized model",
                         vocabulary: int = 1024) -> Path:
    """A GGUF whose layer and vocabulary tensors are Q5_0, beside a Q8_0 and an F32 one; as
    in gemma-3-270m, the vocabulary table (``vocabulary`` rows) is most of the file."""
    rng = np.random.default_rng(7)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_context_length(512)
    tensors = {
        "token_embd.weight": (Q.Q5_0, (vocabulary, 64)),
        "blk.0.ffn_up.weight": (Q.Q5_0, (96, 64)),
        "blk.0.ffn_down.weight": (Q.Q8_0, (64, 96)),
        "blk.0.attn_norm.weight": (Q.F32, (64,)),
        "blk.1.attn_q.weight": (Q.Q5_0, (64, 64)),
    }
    for tensor, (kind, shape) in tensors.items():
        values = rng.normal(0, 0.05, size=shape).astype(np.float32)
        if kind == Q.F32:
            writer.add_tensor(tensor, values)
        else:
            writer.add_tensor(tensor, gguf.quants.quantize(values, kind), raw_dtype=kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def weights_of(path: Path) -> dict[str, tuple[Q, np.ndarray]]:
    reader = gguf.GGUFReader(path)
    return {t.name: (t.tensor_type, gguf.quants.dequantize(t.data, t.tensor_type).ravel())
            for t in reader.tensors}


def test_the_copy_holds_exactly_the_same_weights_with_layers_as_q8_0(tmp_path: Path) -> None:
    source = write_quantized_gguf(tmp_path / "tiny.gguf")
    weights = prepared_weights(source, tmp_path / "cache")

    assert weights != source and weights.parent == tmp_path / "cache"
    before, after = weights_of(source), weights_of(weights)
    assert {name: kind for name, (kind, _) in after.items()} == {
        "token_embd.weight": Q.Q5_0,  # every generated token reads it: left narrow
        "blk.0.ffn_up.weight": Q.Q8_0,
        "blk.0.ffn_down.weight": Q.Q8_0,
        "blk.0.attn_norm.weight": Q.F32,
        "blk.1.attn_q.weight": Q.Q8_0,
    }
    for name, (_, values) in before.items():
        assert np.array_equal(after[name][1], values), name
    assert gguf.GGUFReader(weights).fields["general.name"].contents() == "tiny quantized model"


def test_a_second_load_uses_the_kept_copy(tmp_path: Path, monkeypatch) -> None:
    source = write_quantized_gguf(tmp_path / "tiny.gguf")
    first = prepared_weights(source, tmp_path / "cache")
    written = first.stat().st_ino

    def must_not_write(*args: object) -> bool:
        raise AssertionError("the kept copy was written again")

    monkeypatch.setattr(prepared, "_write_widened", must_not_write)
    assert prepared_weights(source, tmp_path / "cache") == first
    assert first.stat().st_ino == written


def test_a_model_without_q5_0_layers_loads_as_it_is(tmp_path: Path) -> None:
    source = write_tiny_gguf(tmp_path / "f32.gguf")
    assert prepared_weights(source, tmp_path / "cache") == source
    assert not list((tmp_path / "cache").glob("*"))


def test_a_model_mostly_made_of_q5_0_layers_loads_as_it_is(tmp_path: Path) -> None:
    # Its replies would read half as many bytes again per token: slower, not faster.
    source = write_quantized_gguf(tmp_path / "tiny.gguf", vocabulary=32)
    assert prepared_weights(source, tmp_path / "cache") == source
    assert not list((tmp_path / "cache").glob("*.gguf"))


def test_a_large_model_loads_as_it_is(tmp_path: Path, monkeypatch) -> None:
    source = write_quantized_gguf(tmp_path / "tiny.gguf")
    monkeypatch.setattr(prepared, "MAX_PREPARED_BYTES", source.stat().st_size - 1)
    assert prepared_weights(source, tmp_path / "cache") == source


def test_no_copy_is_made_where_it_would_leave_the_disk_short(tmp_path: Path, monkeypatch) -> None:
    source = write_quantized_gguf(tmp_path / "tiny.gguf")
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(prepared, "SPARE_DISK_BYTES", 2 << 30)
    monkeypatch.setattr(prepared.shutil, "disk_usage", lambda _: usage._replace(free=2 << 30))
    assert prepared_weights(source, tmp_path / "cache") == source
    assert not list((tmp_path / "cache").glob("*.gguf"))


def test_a_failed_copy_leaves_nothing_behind_and_the_original_loads(
    tmp_path: Path, monkeypatch
) -> None:
    source = write_quantized_gguf(tmp_path / "tiny.gguf")

    def disk_full(raw: bytes) -> bytes:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(prepared, "widen_q5_0", disk_full)
    assert prepared_weights(source, tmp_path / "cache") == source
    assert not list((tmp_path / "cache").glob("*"))


def test_only_the_two_most_recently_used_copies_are_kept(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    sources = [write_quantized_gguf(tmp_path / f"{name}.gguf", name) for name in "abc"]
    first, second = (prepared_weights(source, cache) for source in sources[:2])
    for age, copy in enumerate((first, second)):
        os.utime(copy, (1_000_000 + age, 1_000_000 + age))
    assert prepared_weights(sources[0], cache) == first  # used again: now the most recent
    third = prepared_weights(sources[2], cache)
    assert set(cache.glob("*.gguf")) == {first, third}


def test_a_copy_left_half_written_by_a_stopped_process_is_removed(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    stopped = cache / f"a.0123456789ab{prepared._SUFFIX}x1y2.partial"
    stopped.write_bytes(b"GGUF")
    os.utime(stopped, (1_000_000, 1_000_000))
    in_progress = cache / f"b.0123456789ab{prepared._SUFFIX}z3w4.partial"  # another process
    in_progress.write_bytes(b"GGUF")
    prepared_weights(write_quantized_gguf(tmp_path / "c.gguf"), cache)
    assert not stopped.exists() and in_progress.exists()


@model_test
def test_the_bundled_model_from_its_copy_is_the_same_model(
    default_gguf: Path, tmp_path: Path
) -> None:
    texts = ["The tenant must give sixty days written notice.", "Tomatoes need full sun."]
    with UnifiedModel.load(default_gguf, embed_batch_tokens=256) as original:
        expected_id, expected = original.model_id, original.embed_documents(texts)
    with UnifiedModel.load(default_gguf, embed_batch_tokens=256, cache_dir=tmp_path) as fast:
        assert list(tmp_path.glob(f"*{prepared._SUFFIX}"))  # loaded from the widened copy
        assert fast.model_id == expected_id  # the index built with the original still fits
        assert np.allclose(fast.embed_documents(texts), expected, atol=1e-4)


@model_test
def test_a_damaged_copy_is_dropped_and_the_original_loads(
    default_gguf: Path, tmp_path: Path
) -> None:
    damaged = prepared_weights(default_gguf, tmp_path)
    damaged.write_bytes(b"GGUF" + bytes(64))
    with UnifiedModel.load(default_gguf, embed_batch_tokens=256, cache_dir=tmp_path) as model:
        assert model.embed_query("notice period").shape == (model.dim,)
    assert not damaged.exists()
