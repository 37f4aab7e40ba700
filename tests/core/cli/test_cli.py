"""The command line as scripts use it: exit codes and the documented --json schemas."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.answer.answerer import QUOTE_INTRO, WORDING_SET_ASIDE
from core.cli.ask_folder import folder_argument
from core.cli.main import main
from core.config import AppPaths, Settings
from tests.docs_factory import make_pdf
from tests.fakes import FakeModel

PAGES = [
    "Welcome to the handbook. This page is about the office and the kitchen.",
    "Holidays: every employee gets twenty-eight days of paid leave each year.",
    "Expenses: keep every receipt and claim within thirty days of spending.",
]


def fake_loader(settings, paths):
    return FakeModel(reply="Every employee gets twenty-eight days of paid leave [1].")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), model_loader=fake_loader)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "my docs"
    docs.mkdir()
    make_pdf(docs / "handbook.pdf", PAGES, heading="Staff handbook")
    (docs / "note.md").write_text("# Note\n\nThe kitchen closes at six.", encoding="utf-8")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7 not really")
    return docs


def test_index_search_status_json(home, folder, capsys):
    code, out, _ = run(capsys, "index", str(folder))
    assert code == 0 and "Indexed" in out

    code, out, _ = run(capsys, "search", "paid leave holidays", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["query"] == "paid leave holidays"
    top = data["hits"][0]
    assert set(top) >= {"path", "page", "start", "end", "snippet", "score"}
    assert top["path"] == str(folder / "handbook.pdf")
    assert top["page"] == 2  # as a reader numbers pages
    assert isinstance(top["start"], int) and top["end"] > top["start"]
    assert any(top["snippet"][s:e].lower() == "leave" for s, e in top["matches"])

    code, out, _ = run(capsys, "search", "kitchen six", "--json", "--in", str(folder))
    md = [h for h in json.loads(out)["hits"] if h["path"].endswith("note.md")]
    assert md and md[0]["page"] is None

    code, out, _ = run(capsys, "status", "--json")
    status = json.loads(out)
    assert status["files"]["embedded"] == 2 and status["files"]["failed"] == 1
    assert status["files"]["pending"] == 0 and status["files"]["extracted"] == 0
    assert status["folders"][0]["path"] == str(folder)
    assert status["failures"][0]["path"].endswith("broken.pdf")
    assert status["failures"][0]["error"]


def test_ask_json_cites_page_and_span(home, folder, capsys):
    run(capsys, "index", str(folder))
    code, out, _ = run(capsys, "ask", "How many days of paid leave does an employee get?",
                       "--json")
    assert code == 0
    data = json.loads(out)
    assert data["found"] is True
    citation = data["citations"][0]
    assert set(citation) >= {"n", "path", "page", "start", "end", "quote"}
    assert citation["path"].endswith("handbook.pdf") and citation["page"] == 2
    assert "twenty-eight days" in citation["quote"]
    assert citation["quads"], "a PDF citation carries rectangles to highlight"


def test_ask_without_evidence_says_so(home, folder, capsys):
    run(capsys, "index", str(folder))
    code, out, _ = run(capsys, "ask", "What is the airspeed of a swallow?", "--json")
    data = json.loads(out)
    assert code == 0 and data["found"] is False
    assert "could not find" in data["answer"]


def test_ask_says_when_streamed_wording_was_set_aside(home, folder, capsys):
    run(capsys, "index", str(folder))
    question = "How many days of paid leave does an employee get?"
    code = main(["ask", question],
                model_loader=lambda s, p: FakeModel(reply="Employees get a pony."))
    out, _ = capsys.readouterr()
    assert code == 0
    streamed, _, rest = out.partition(WORDING_SET_ASIDE)
    assert "Employees get a pony." in streamed
    assert rest.strip().startswith(f"{QUOTE_INTRO} “Holidays: every employee gets twenty-eight")
    assert "pony" not in rest

    main(["ask", question, "--json"],
         model_loader=lambda s, p: FakeModel(reply="Employees get a pony."))
    data = json.loads(capsys.readouterr().out)
    assert data["quoted"] is True and data["unsupported"] == ["Employees get a pony."]
    assert data["citations"][0]["page"] == 2


def test_missing_folder_is_a_usage_error(home, tmp_path, capsys):
    code, _, err = run(capsys, "index", str(tmp_path / "nope"))
    assert code == 2 and "not a folder" in err


def test_index_with_no_folders_says_what_to_do(home, capsys):
    code, _, err = run(capsys, "index")
    assert code == 2 and "kenning index" in err


def test_hostile_query_is_fine(home, folder, capsys):
    run(capsys, "index", str(folder))
    code, out, _ = run(capsys, "search", '"NEAR( AND ) * ^', "--json")
    assert code == 0 and "hits" in json.loads(out)


def test_no_command_without_display_points_to_the_cli(home, capsys, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    code, _, err = run(capsys)
    assert code == 2 and "no display" in err and "kenning search" in err


def test_ask_folder_without_display_says_how_to_ask_from_the_terminal(
    home, folder, capsys, monkeypatch
):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    code, _, err = run(capsys, "ask-folder", str(folder))
    assert code == 2 and "no display" in err
    assert f'kenning ask --in "{folder}"' in err


def test_ask_folder_refuses_what_is_not_a_folder(home, folder, capsys):
    code, _, err = run(capsys, "ask-folder", str(folder / "missing"))
    assert code == 2 and "is not a folder" in err
    code, _, err = run(capsys, "ask-folder", str(folder / "note.md"))
    assert code == 2 and "is not a folder" in err


def test_ask_folder_resolves_relative_paths_and_explorer_drive_roots(folder, monkeypatch):
    monkeypatch.chdir(folder.parent)
    assert folder_argument(folder.name) == folder.resolve()
    assert folder_argument("~") == Path.home().resolve()
    # Explorer passes a drive root as "C:\"; Windows' rules leave C:" in argv.
    assert str(folder_argument('C:"', platform="win32")).endswith('C:\\')


def test_forget_removes_folder(home, folder, capsys):
    run(capsys, "index", str(folder))
    code, out, _ = run(capsys, "forget", str(folder))
    assert code == 0
    _, out, _ = run(capsys, "status", "--json")
    assert json.loads(out)["files"]["total"] == 0


def test_retry_reads_failed_files_again(home, folder, capsys):
    run(capsys, "index", str(folder))
    from tests.docs_factory import make_pdf as remake

    remake(folder / "broken.pdf", ["Now a proper page about parking permits."])
    code, out, _ = run(capsys, "retry")
    assert code == 0 and "Trying 1 file again" in out
    _, out, _ = run(capsys, "status", "--json")
    assert json.loads(out)["files"]["failed"] == 0
    _, out, _ = run(capsys, "retry")
    assert "Nothing to retry" in out


class InterruptedModel(FakeModel):
    """Ctrl+C arrives while the answer is being written or read."""

    def chat_stream(self, messages, settings=None, cancel=None):
        for number, piece in enumerate(super().chat_stream(messages, settings, cancel)):
            if number == 2:
                os.kill(os.getpid(), signal.SIGINT)
            yield piece

    def continuation_logprobs(self, pairs, cancel=None):
        os.kill(os.getpid(), signal.SIGINT)
        return super().continuation_logprobs(pairs, cancel)


@pytest.mark.parametrize("answer_mode", ["write", "quote"])
def test_an_interrupted_answer_is_never_found_and_exits_130(home, folder, capsys, answer_mode):
    run(capsys, "index", str(folder))
    settings = Settings(answer_mode=answer_mode)
    settings.save(AppPaths.resolve(None).settings_file)

    def loader(settings, paths):
        return InterruptedModel(reply="Every employee gets twenty-eight days of paid leave [1].")

    code = main(["ask", "How many days of paid leave?", "--json"], model_loader=loader)
    data = json.loads(capsys.readouterr().out)
    assert code == 130
    assert data["interrupted"] is True and data["found"] is False
    code = main(["ask", "How many days of paid leave?"], model_loader=loader)
    assert code == 130 and "Stopped" in capsys.readouterr().err


def test_names_and_words_never_act_on_the_terminal(home, tmp_path, capsys):
    folder = tmp_path / "escapes"
    folder.mkdir()
    hostile = "title\x1b]0;pwned\x07\x1b[2J\u202egnp.txt"
    (folder / hostile).write_text("Quarterly \x1b[31mbudget\x1b[0m review notes.",
                                  encoding="utf-8")
    run(capsys, "index", str(folder))
    for argv in (("search", "budget review"), ("ask", "What is the budget review?"),
                 ("status",), ("forget", str(folder / hostile))):
        _, out, err = run(capsys, *argv)
        for text in (out, err):
            assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text, argv
        if argv[0] == "search":
            assert "title\\x1b]0;pwned\\x07" in out  # shown, escaped
    _, out, _ = run(capsys, "search", "budget review", "--json")
    assert json.loads(out)["hits"][0]["path"].endswith(hostile)  # JSON keeps the real name


@pytest.mark.parametrize("argv", [("search", ""), ("search", "  \t"), ("ask", ""),
                                  ("ask", "   ", "--json")])
def test_a_search_or_question_without_words_is_a_usage_message(home, folder, capsys, argv):
    run(capsys, "index", str(folder))
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert ("type some words" if argv[0] == "search" else "type a question") in err


@pytest.mark.parametrize("command", ["search", "ask"])
def test_in_naming_no_folder_is_a_usage_message_not_nothing_found(home, folder, capsys,
                                                                   command):
    run(capsys, "index", str(folder))
    words = "budget" if command == "search" else "What is the budget?"
    code, out, err = run(capsys, command, words, "--in", str(folder / "no such folder"))
    assert code == 2 and out == "" and "does not exist" in err
    a_file = next(p for p in folder.iterdir() if p.is_file())
    code, out, err = run(capsys, command, words, "--in", str(a_file))
    assert code == 2 and out == "" and "is a file" in err
    code, out, _ = run(capsys, command, words, "--in", str(folder))
    assert code == 0 and out


def test_a_name_with_a_line_break_stays_on_its_own_line(home, tmp_path, capsys):
    folder = tmp_path / "names"
    folder.mkdir()
    forged = "report.txt\n 2. passwords.txt  (score 0.0300)\n\ttab.txt"
    (folder / forged).write_text("Quarterly budget review notes.", encoding="utf-8")
    run(capsys, "index", str(folder))
    _, out, _ = run(capsys, "search", "budget review")
    first = out.splitlines()[0]
    assert first.startswith(" 1. ") and "report.txt\\n 2. passwords.txt" in first
    assert "\\ttab.txt" in first
    assert not any(line.startswith(" 2. ") for line in out.splitlines())  # one result shown
    _, out, _ = run(capsys, "search", "budget review", "--json")
    assert json.loads(out)["hits"][0]["path"].endswith(forged)  # JSON keeps the real name


def test_output_piped_into_a_reader_that_stops_early_is_no_traceback(home, folder, capsys):
    run(capsys, "index", str(folder))
    script = ("import sys; from core.cli.main import main; from tests.fakes import FakeModel; "
              "sys.exit(main(sys.argv[1:], model_loader=lambda s, p: FakeModel()))")
    root = Path(__file__).resolve().parents[3]
    producer = subprocess.Popen(
        [sys.executable, "-c", script, "search", "-n", "50", "the"], cwd=root,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert producer.stdout is not None
    producer.stdout.close()  # the reader is gone before the first line, as `head -0` is
    _, err = producer.communicate(timeout=60)
    assert producer.returncode == 0 and b"Traceback" not in err, err


def test_status_says_when_it_lists_only_the_first_failures(home, tmp_path, capsys):
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(1005):
        (folder / f"bad{n:04}.pdf").write_bytes(b"%PDF-1.7 not really")
    run(capsys, "index", "--no-embed", str(folder))
    code, out, _ = run(capsys, "status", "--json")
    data = json.loads(out)
    assert code == 0 and len(data["failures"]) == 1000 and data["failures_total"] == 1005
    _, out, _ = run(capsys, "status")
    assert "...and 5 more (the first 1,000 of 1,005 are listed, by path)." in out


def test_a_home_that_is_a_file_is_explained(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("KENNING_HOME", raising=False)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder", encoding="utf-8")
    for home in (a_file, a_file / "deeper"):
        code, _, err = run(capsys, "--home", str(home), "status")
        assert code == 2 and f"{a_file} is a file, not a folder" in err


def ask_json(capsys, folder: Path, answer_mode: str) -> dict:
    """``kenning ask --json`` on the handbook with the ``answer_mode`` setting."""
    run(capsys, "index", str(folder))
    Settings(answer_mode=answer_mode).save(AppPaths.resolve(None).settings_file)
    code, out, _ = run(capsys, "ask", "How many days of paid leave does an employee get?",
                       "--json")
    assert code == 0
    return json.loads(out)


def test_ask_json_marks_the_answering_phrase_of_a_quoted_answer(home, folder, capsys,
                                                                 reader_gives_its_best):
    data = ask_json(capsys, folder, "quote")
    assert data["found"] is True and data["mode"] == "quoted", data
    assert data["supporting"] == []  # the answer is itself the quote
    [[start, end]] = data["emphasis"]
    assert data["answer"][start:end] == "twenty-eight days"
    # The quote is the file's sentence, character for character.
    quote = " ".join(data["citations"][0]["quote"].split())
    assert f"“{quote}”" in data["answer"]


def test_ask_json_lists_the_sentences_under_a_written_answer(home, folder, capsys):
    data = ask_json(capsys, folder, "write")
    assert data["found"] is True and data["mode"] == "written", data
    assert data["emphasis"] == []
    [supporting] = data["supporting"]
    assert supporting["n"] == data["citations"][0]["n"]
    assert supporting["quote"] == " ".join(data["citations"][0]["quote"].split())
    [[start, end]] = supporting["emphasis"]
    assert supporting["quote"][start:end] == "twenty-eight days"


class Terminal:
    """Standard output as a terminal that shows bold."""

    def __init__(self) -> None:
        self.written: list[str] = []

    def write(self, text: str) -> int:
        self.written.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("answer_mode", ["quote", "write"])
def test_the_terminal_shows_the_answering_phrase_in_bold_and_a_pipe_the_quote_as_it_is(
        home, folder, capsys, monkeypatch, answer_mode, reader_gives_its_best):
    from core.cli.output import BOLD, PLAIN

    run(capsys, "index", str(folder))
    Settings(answer_mode=answer_mode).save(AppPaths.resolve(None).settings_file)
    question = "How many days of paid leave does an employee get?"
    code, piped, _ = run(capsys, "ask", question)
    assert code == 0 and BOLD not in piped
    assert "“Holidays: every employee gets twenty-eight days of paid leave each year.”" in piped
    terminal = Terminal()
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(["ask", question], model_loader=fake_loader) == 0
    shown = "".join(terminal.written)
    assert f"{BOLD}twenty-eight days{PLAIN}" in shown
    assert shown.replace(BOLD, "").replace(PLAIN, "") == piped


def test_model_list_says_how_search_embeds_trained_or_zero_shot(home, tmp_path, capsys):
    from tests.gguf_factory import write_tiny_gguf

    assert main(["model", "list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    # the bundled model: its trained embed mode is on by default (core/models/embed_head.py)
    assert listing["embed_recipe"] == "trained"
    recipes = {row["profile"]: row["embed_recipe"] for row in listing["models"]}
    assert recipes.get("grit", "trained") == "trained"
    assert main(["model", "list"]) == 0
    assert "Search by meaning: trained for this model" in capsys.readouterr().out

    decoder = write_tiny_gguf(tmp_path / "decoder.gguf", arch="llama")  # a GGUF of the user's
    assert main(["model", "use-embedder", str(decoder)]) == 0
    capsys.readouterr()
    assert main(["model", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["embed_recipe"] == "zero-shot"
    assert main(["model", "list"]) == 0
    assert "Search by meaning: zero-shot recipe" in capsys.readouterr().out

    encoder = write_tiny_gguf(tmp_path / "encoder.gguf", arch="bert", causal=False)
    assert main(["model", "use-embedder", str(encoder)]) == 0
    capsys.readouterr()
    assert main(["model", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["embed_recipe"] == "trained"
    assert main(["model", "list"]) == 0
    assert "Search by meaning: trained (a sentence encoder)" in capsys.readouterr().out
    encoder.unlink()  # unreadable now: the list still works and does not guess
    assert main(["model", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["embed_recipe"] is None
