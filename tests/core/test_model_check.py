"""Choosing a local GGUF: real files written with llama.cpp's ``gguf`` package, and the
real bundled model."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest

from core.model_check import UnusableModel, check_model


def _write_gguf(path: Path, arch: str, tokens: list[str] | None = None,
                causal: bool | None = None) -> Path:
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name("tiny test model")
    writer.add_context_length(512)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    if causal is not None:
        writer.add_causal_attention(causal)
    if tokens:
        writer.add_token_list(tokens)
    writer.add_tensor("token_embd.weight", np.ones((64, 16), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_a_generic_decoder_is_reported(tmp_path: Path) -> None:
    report = check_model(_write_gguf(tmp_path / "tiny.gguf", "llama", ["a", "b"]))
    assert (report.architecture, report.profile, report.context_length) == ("llama", "generic", 512)
    assert report.quantization == "ALL_F32"
    assert report.size_bytes == (tmp_path / "tiny.gguf").stat().st_size


def test_embed_token_means_grit_and_bert_means_encoder(tmp_path: Path) -> None:
    grit = _write_gguf(tmp_path / "grit.gguf", "llama", ["<s>", "<|embed|>"])
    bert = _write_gguf(tmp_path / "bert.gguf", "bert", ["[CLS]"], causal=False)
    assert check_model(grit).profile == "grit"
    assert check_model(bert).profile == "encoder"


def test_a_file_that_is_not_gguf_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.gguf"
    path.write_text("just some text, not a model")
    with pytest.raises(UnusableModel, match="not a GGUF"):
        check_model(path)


def test_a_truncated_file_is_refused(tmp_path: Path) -> None:
    whole = _write_gguf(tmp_path / "whole.gguf", "llama", ["a"]).read_bytes()
    for keep in (len(whole) - 100, 40):  # tensor data cut short; header cut short
        cut = tmp_path / f"cut{keep}.gguf"
        cut.write_bytes(whole[:keep])
        with pytest.raises(UnusableModel, match="truncated"):
            check_model(cut)


def test_an_unsupported_architecture_is_refused(tmp_path: Path) -> None:
    path = _write_gguf(tmp_path / "whisper.gguf", "whisper-encoder-unknown", ["a"])
    with pytest.raises(UnusableModel, match="does not support"):
        check_model(path)


def test_too_little_memory_is_refused(tmp_path: Path) -> None:
    path = _write_gguf(tmp_path / "tiny.gguf", "llama", ["a"])
    with pytest.raises(UnusableModel, match="memory"):
        check_model(path, available_ram=1024)


@pytest.mark.model
def test_the_bundled_model_is_accepted(default_gguf: Path) -> None:
    report = check_model(default_gguf)
    assert report.architecture == "gemma3"
    assert report.profile == "generic"
    assert report.quantization == "Q4_K_M"
    assert report.context_length == 32768
