"""Choosing a local GGUF: real files written with llama.cpp's ``gguf`` package, and the
real bundled model. Every check runs with both header readers: ggml's C reader (the one used)
and the ``gguf`` package's (the fallback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.models.check import UnusableModel, check_model
from core.models.llama import gguf_header
from core.models.llama.gguf_info import ModelFacts
from core.models.profiles import profile_for
from tests.gguf_factory import write_tiny_gguf


@pytest.fixture(autouse=True, params=["ggml", "gguf-package"])
def header_reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "gguf-package":
        monkeypatch.setattr(gguf_header, "ggml_library", lambda: None)
    return str(request.param)


def test_the_fast_reader_is_the_one_used_here(tmp_path: Path, header_reader: str) -> None:
    header = gguf_header.read_header(write_tiny_gguf(tmp_path / "tiny.gguf", "llama", ["a"]))
    expected = "_CHeader" if header_reader == "ggml" else "_PythonHeader"
    assert type(header).__name__ == expected


def test_a_generic_decoder_is_reported(tmp_path: Path) -> None:
    report = check_model(write_tiny_gguf(tmp_path / "tiny.gguf", "llama", ["a", "b"]))
    assert (report.architecture, report.profile, report.context_length) == ("llama", "generic", 512)
    assert report.quantization == "ALL_F32"
    assert report.size_bytes == (tmp_path / "tiny.gguf").stat().st_size


def test_embed_token_means_grit_and_bert_means_encoder(tmp_path: Path) -> None:
    grit = write_tiny_gguf(tmp_path / "grit.gguf", "llama", ["<s>", "<|embed|>"])
    bert = write_tiny_gguf(tmp_path / "bert.gguf", "bert", ["[CLS]"], causal=False)
    assert check_model(grit).profile == "grit"
    assert check_model(bert).profile == "encoder"


def test_a_file_that_is_not_gguf_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.gguf"
    path.write_text("just some text, not a model")
    with pytest.raises(UnusableModel, match="not a GGUF"):
        check_model(path)


def test_a_gritlm_gguf_is_grit_though_its_tokenizer_has_no_embed_token(tmp_path: Path) -> None:
    # GritLM-7B's vocabulary is Mistral's: `<|embed|>` is written in ordinary pieces.
    pieces = ["<s>", "<", "|", "embed", "|", ">"]
    by_name = write_tiny_gguf(tmp_path / "a.gguf", "llama", pieces, name="GritLM 7B")
    by_file = write_tiny_gguf(tmp_path / "GritLM-7B-Q4_K_M.gguf", "llama", pieces, name="model")
    plain = write_tiny_gguf(tmp_path / "mistral.gguf", "llama", pieces, name="Mistral 7B")
    assert [check_model(p).profile for p in (by_name, by_file, plain)] == [
        "grit", "grit", "generic"]


def test_nomic_embed_gets_its_task_prefixes() -> None:
    nomic, minilm = profile_for(False, False, "nomic-bert"), profile_for(False, False, "bert")
    assert (nomic.name, nomic.document_prefix, nomic.query_prefix) == (
        "encoder", "search_document: ", "search_query: ")
    assert (minilm.document_prefix, minilm.query_prefix) == ("", "")
    facts = ModelFacts("n.gguf", "0123456789ab", "nomic-bert", "n", 2048, False, False, None,
                       "plain")
    assert facts.recipe(nomic) != facts.recipe(minilm)  # their vectors are never mixed


def test_a_truncated_file_is_refused(tmp_path: Path) -> None:
    whole = write_tiny_gguf(tmp_path / "whole.gguf", "llama", ["a"]).read_bytes()
    for keep in (len(whole) - 100, 40):  # tensor data cut short; header cut short
        cut = tmp_path / f"cut{keep}.gguf"
        cut.write_bytes(whole[:keep])
        with pytest.raises(UnusableModel, match="truncated"):
            check_model(cut)


def test_the_readers_complaint_is_in_the_message_not_on_stderr(
        tmp_path: Path, header_reader: str, capfd: pytest.CaptureFixture[str]) -> None:
    whole = write_tiny_gguf(tmp_path / "whole.gguf", "llama", ["a"]).read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(whole[:200])
    with pytest.raises(UnusableModel) as refusal:
        check_model(cut)
    assert capfd.readouterr().err == ""
    if header_reader == "ggml":
        assert "failed to read" in str(refusal.value)


def test_an_unsupported_architecture_is_refused(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "whisper.gguf", "whisper-encoder-unknown", ["a"])
    with pytest.raises(UnusableModel, match="does not support"):
        check_model(path)


def test_too_little_memory_is_refused(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "tiny.gguf", "llama", ["a"])
    with pytest.raises(UnusableModel, match="memory"):
        check_model(path, available_ram=1024)


@pytest.mark.model
def test_the_bundled_model_is_accepted(default_gguf: Path) -> None:
    report = check_model(default_gguf)
    assert report.architecture == "gemma3"
    assert report.profile == "generic"
    assert report.quantization == "Q4_K_M"
    assert report.context_length == 32768
