"""The command line when its surroundings are hostile: a read-only data folder, a full disk,
an index that lost its contents or was silently damaged, a newer schema, links that loop,
kills. Every case ends in a message and a documented exit code, never a traceback, and what
was committed is kept."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest

from core.cli.main import main
from core.config import AppPaths
from core.store import database as store_module
from core.store.clean_close import stamp_path
from core.store.database import Store
from tests.docs_factory import make_pdf
from tests.fakes import FakeModel
from tests.index_checks import assert_consistent

ROOT = Path(__file__).resolve().parents[3]
MODEL_ID = FakeModel().model_id


def fake_loader(settings, paths):
    return FakeModel()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), model_loader=fake_loader)
    out, err = capsys.readouterr()
    return code, out, err


def paths_of(home: Path) -> AppPaths:
    return AppPaths.resolve(home)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(6):
        (docs / f"note{i}.txt").write_text(f"Tomato harbour ledger {i}. " * 40, encoding="utf-8")
    return docs


# -- item 9: the clean-close note --------------------------------------------------------------


def test_a_command_that_ends_normally_spares_the_next_one_the_check(home, folder, capsys, checks):
    assert run(capsys, "index", str(folder))[0] == 0
    database = paths_of(home).database
    assert stamp_path(database).exists()
    assert not Path(f"{database}-wal").exists()  # all of it is in the file
    checked = len(checks)
    for argv in (["status"], ["search", "tomato"], ["index"]):
        assert run(capsys, *argv)[0] == 0
    assert len(checks) == checked  # none of the three read the whole file again


def test_a_killed_command_leaves_no_note_and_the_next_one_checks(home, folder, capsys, checks):
    assert run(capsys, "index", str(folder))[0] == 0
    database = paths_of(home).database
    for i in range(200):
        (folder / f"more{i}.txt").write_text(f"More words {i} about rivers. " * 30)
    child = _cli_child(home, "index", slow_s="0.2")
    try:
        _wait_until(lambda: not stamp_path(database).exists(), child)
        time.sleep(0.5)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert not stamp_path(database).exists()
    checked = len(checks)
    assert run(capsys, "status")[0] == 0
    assert len(checks) == checked + 1


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGINT are POSIX's")
def test_ctrl_c_while_files_are_read_marks_no_file_failed(home, tmp_path, capsys):
    docs = tmp_path / "many"
    docs.mkdir()
    page = "Words about boats and the harbour at dawn. " * 25
    for i in range(40):  # long enough that the readers are mostly in the middle of one
        make_pdf(docs / f"file{i:03}.pdf", [f"{page} {i}"] * 40)
    database = paths_of(home).database
    for _ in range(2):
        before = _extracted(database)
        child = _cli_child(home, "index", str(docs), new_session=True)
        try:
            _wait_until(lambda start=before: _extracted(database) > start + 2, child)
            os.killpg(child.pid, signal.SIGINT)  # Ctrl+C reaches the children too
            assert child.wait(timeout=60) == 130
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
        _code, out, _ = run(capsys, "status", "--json")
        assert '"failed": 0' in out, out
    assert run(capsys, "index")[0] == 0
    assert '"embedded": 40' in run(capsys, "status", "--json")[1]


def _extracted(database: Path) -> int:
    try:
        conn = apsw.Connection(f"file:{database}?mode=ro", flags=apsw.SQLITE_OPEN_READONLY
                               | apsw.SQLITE_OPEN_URI)
        try:
            return int(conn.execute(
                "SELECT count(*) FROM files WHERE state != 'pending'").fetchall()[0][0])
        finally:
            conn.close()
    except apsw.Error:
        return 0


# -- item 4: several writers at once -----------------------------------------------------------


def test_commands_started_together_on_a_new_home_never_trip_over_each_other(tmp_path, folder):
    for round_ in range(3):
        home = tmp_path / f"home{round_}"
        commands = [["index", str(folder)], ["index", str(folder)], ["status"],
                    ["search", "tomato"], ["forget", str(tmp_path / "nowhere")]]
        children = [_cli_child(home, *argv, capture=True) for argv in commands]
        results = [(child.wait(timeout=120), child.communicate()[1]) for child in children]
        for argv, (code, err) in zip(commands, results, strict=True):
            assert "Traceback" not in err, (argv, err)
            assert code == (2 if argv[0] == "forget" else 0), (argv, err)
        store = Store.open(paths_of(home).database)
        assert store.files.state_counts()["embedded"] == 6
        assert_consistent(store, MODEL_ID)
        store.close()


def test_a_second_index_waits_for_the_first_and_says_so(home, folder, capsys):
    for i in range(15):
        (folder / f"more{i}.txt").write_text(f"Lakes and rivers {i}. " * 200)
    first = _cli_child(home, "index", str(folder), slow_s="1.5", capture=True)
    database = paths_of(home).database
    _wait_until(lambda: _extracted(database) > 0, first)
    second = _cli_child(home, "index", capture=True)
    _, second_err = second.communicate(timeout=180)
    # The first gives up the lock as it finishes; its exit may trail the second's by moments.
    assert second.returncode == 0 and first.wait(timeout=30) == 0
    assert "Another Kenning is indexing this library; waiting" in second_err
    assert "Traceback" not in second_err
    assert "Found 0 new or changed" in second_err


# -- item 8: a read-only data folder, a full disk ------------------------------------------------


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` read-only for Kenning: by permissions, or (as root, whom permissions do not
    stop) by a read-only bind mount; skipped where neither can be done."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.iterdir()]}
        for p in modes:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    done = subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"as root, a read-only folder needs a bind mount: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_readers_work_from_a_read_only_data_folder_and_writers_explain(home, folder, capsys):
    assert run(capsys, "index", str(folder))[0] == 0
    data = paths_of(home).data_dir
    before = sorted(p.name for p in data.iterdir())
    with read_only(data):
        code, out, err = run(capsys, "status", "--json")
        assert code == 0, err
        assert '"embedded": 6' in out
        code, out, err = run(capsys, "search", "tomato harbour")
        assert code == 0, err
        assert "note" in out
        code, out, err = run(capsys, "index")
        assert code == 1
        assert "read-only" in err and "--home" in err and "Traceback" not in err
        code, out, err = run(capsys, "forget", str(folder))
        assert code == 1 and "read-only" in err
        assert sorted(p.name for p in data.iterdir()) == before
    assert run(capsys, "status")[0] == 0


@pytest.mark.parametrize("pages, phase", [(150, "extract"), (400, "embed")])
def test_a_full_disk_stops_indexing_with_the_reason_and_keeps_what_was_committed(
    home, tmp_path, capsys, monkeypatch, pages, phase
):
    docs = tmp_path / "many"
    docs.mkdir()
    for i in range(80):
        (docs / f"file{i:02}.txt").write_text(f"Paragraph {i} of words about lakes. " * 300)
    connect = store_module._connect

    def small_disk(path: Path, uri: str | None = None) -> apsw.Connection:
        conn = connect(path, uri)
        # SQLite's own size cap answers writes past it as a full disk does (SQLITE_FULL).
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    monkeypatch.setattr(store_module, "_connect", small_disk)
    code, _out, err = run(capsys, "index", str(docs))
    assert code == 1
    assert "disk is full" in err and "Traceback" not in err
    monkeypatch.setattr(store_module, "_connect", connect)

    store = Store.open(paths_of(home).database)
    counts = store.files.state_counts()
    assert counts["failed"] == 0  # a full disk is never a file's fault
    if phase == "extract":
        assert 0 < counts["extracted"] + counts["embedded"] < 80
    else:
        assert counts["extracted"] + counts["embedded"] == 80 and counts["embedded"] < 80
    assert_consistent(store, MODEL_ID)
    store.close()
    assert run(capsys, "index")[0] == 0
    assert '"embedded": 80' in run(capsys, "status", "--json")[1]


# -- item 7: the built-in model cannot be unpacked ------------------------------------------------


def test_when_the_built_in_model_cannot_be_unpacked_words_still_work(home, folder, capsys):
    # The real loader, with nowhere to unpack the model to (as on a full disk).
    paths_of(home).data_dir.mkdir(parents=True)
    paths_of(home).models_dir.write_text("not a folder")
    code = main(["index", str(folder)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "indexing by words only" in err and "Could not write the built-in model" in err
    assert "6 by keywords only" in out

    code = main(["search", "--json", "tomato harbour"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert len(result["hits"]) == 6 and result["semantic"] is False
    assert any("Keyword search only" in w for w in result["warnings"])

    code = main(["ask", "What is the ledger about?"])
    out, err = capsys.readouterr()
    assert code == 1 and "Could not write the built-in model" in err
    assert "Traceback" not in err + out


# -- item 10: an index that lost its contents -----------------------------------------------------


def _empty(database: Path) -> None:
    database.write_bytes(b"")


def _header_only(database: Path) -> None:
    database.unlink()
    conn = apsw.Connection(str(database))
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()


@pytest.mark.parametrize("loss", [_empty, _header_only])
def test_an_index_that_lost_its_contents_is_rebuilt_from_the_remembered_folders(
    home, folder, capsys, loss
):
    assert run(capsys, "index", str(folder))[0] == 0
    database = paths_of(home).database
    loss(database)
    for suffix in ("-wal", "-shm"):  # the log deleted after a kill
        Path(f"{database}{suffix}").unlink(missing_ok=True)

    code, out, err = run(capsys, "status", "--json")
    assert code == 0
    assert "was damaged" in err and "1 folder(s) will be indexed again" in err
    assert str(folder) in out
    code, out, err = run(capsys, "index")
    assert code == 0 and "No folders yet" not in err
    assert '"embedded": 6' in run(capsys, "status", "--json")[1]


def test_a_new_index_beside_no_folder_list_is_simply_new(home, capsys):
    code, _out, err = run(capsys, "status")
    assert code == 0 and err == ""


# -- item 12: damage found mid-command, a newer schema, looping links ------------------------------


def test_silent_damage_found_by_a_query_is_recovered_by_that_command(home, folder, capsys):
    assert run(capsys, "index", str(folder))[0] == 0
    database = paths_of(home).database
    assert stamp_path(database).exists()  # so the next open trusts the file without a check
    state = database.stat()
    with open(database, "r+b") as f:  # everything past the first page, overwritten in place
        f.seek(4096)
        f.write(os.urandom(state.st_size - 4096))
    os.utime(database, ns=(state.st_atime_ns, state.st_mtime_ns))

    code, out, err = run(capsys, "search", "tomato")
    assert code == 0, err
    assert "was damaged" in err and "indexed again" in err
    assert run(capsys, "index")[0] == 0
    code, out, err = run(capsys, "search", "tomato")
    assert code == 0 and "note" in out


def test_an_index_from_a_newer_kenning_is_explained(home, folder, capsys):
    assert run(capsys, "index", str(folder))[0] == 0
    conn = apsw.Connection(str(paths_of(home).database))
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    for argv in (["status"], ["index"], ["search", "x"]):
        code, _out, err = run(capsys, *argv)
        assert code == 1, argv
        assert "newer Kenning" in err and "Update Kenning" in err and "Traceback" not in err


@pytest.mark.parametrize("command", [
    ["index", "{loop}"], ["search", "x", "--in", "{loop}"], ["forget", "{loop}"],
    ["ask", "why?", "--in", "{loop}"], ["ask-folder", "{loop}"],
])
def test_a_path_whose_links_loop_is_a_usage_message(home, tmp_path, capsys, command):
    loop = tmp_path / "loop"
    (tmp_path / "other").symlink_to(loop)
    loop.symlink_to(tmp_path / "other")
    code, _out, err = run(capsys, *[part.format(loop=loop) for part in command])
    assert code == 2
    assert "in a circle" in err and str(loop) in err


# -- item 13: a file read in part says so -------------------------------------------------------


def test_status_says_what_of_a_truncated_pdf_was_read(home, tmp_path, capsys):
    docs = tmp_path / "pdfs"
    docs.mkdir()
    whole = make_pdf(tmp_path / "whole.pdf", [f"Page {i} about the harbour." for i in range(200)])
    (docs / "cut.pdf").write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.65)])
    one = make_pdf(tmp_path / "one.pdf", ["A single page about the harbour and its boats."])
    (docs / "one.pdf").write_bytes(one.read_bytes()[: one.stat().st_size // 2])
    assert run(capsys, "index", str(docs))[0] == 0
    data = json.loads(run(capsys, "status", "--json")[1])
    assert [n["path"] for n in data["notes"]] == [str(docs / "cut.pdf")]
    assert re.fullmatch(r"read \d\d\d of 200 pages; the rest could not be read: the file "
                        r"looks truncated .*", data["notes"][0]["note"])
    assert data["files"]["embedded"] == 1 and data["files"]["failed"] == 1
    for failure in data["failures"]:
        assert failure["error"].startswith("damaged PDF: the file looks truncated")
        assert "OCR" not in failure["error"]
    out = run(capsys, "status")[1]
    assert "Read in part:" in out and "of 200 pages" in out


# -- item 14: nothing deeper than the path limit goes missing ----------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's 4,096-byte limit")
def test_files_and_folders_past_the_path_limit_are_listed_with_the_reason(home, tmp_path, capsys):
    docs = tmp_path / "deep"
    docs.mkdir()
    (docs / "near.txt").write_text("A file near the top about harbours.")
    # Built one folder at a time through descriptors: no path this long can be used whole.
    name = "n" * 200
    fd = os.open(docs, os.O_RDONLY)
    depth = 0
    try:
        while len(str(docs)) + (depth + 1) * (len(name) + 1) < 4090:
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd, depth = inner, depth + 1
        # This folder's path fits; the file's inside it does not.
        file_fd = os.open("x" * 240 + ".txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(file_fd, b"Too deep to open by its path.")
        os.close(file_fd)
        os.mkdir(name, dir_fd=fd)  # a folder whose own path is too long: nothing in it opens
        inner = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
        file_fd = os.open("lost.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.close(file_fd)
    finally:
        os.close(fd)

    assert run(capsys, "index", str(docs))[0] == 0
    data = json.loads(run(capsys, "status", "--json")[1])
    assert data["files"]["embedded"] == 1 and data["files"]["skipped"] == 2
    reasons = {Path(f["path"]).name[:10]: f["error"] for f in data["failures"]}
    assert reasons["x" * 10].startswith("its full path is longer than the system allows")
    assert reasons["n" * 10].startswith("a folder whose full path is longer than the system")
    assert all(len(f["path"]) > 4096 for f in data["failures"])
    assert run(capsys, "index")[0] == 0  # a second scan finds them the same: nothing changes
    assert json.loads(run(capsys, "status", "--json")[1])["files"]["skipped"] == 2


# -- helpers ------------------------------------------------------------------------------------


def _cli_child(home: Path, *argv: str, slow_s: str = "0", new_session: bool = False,
               capture: bool = False) -> subprocess.Popen[str]:
    env = {**os.environ, "KENNING_HOME": str(home), "KENNING_TEST_SLOW_S": slow_s}
    return subprocess.Popen([sys.executable, "-m", "tests.cli_child", *argv], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                            stderr=subprocess.PIPE if capture else subprocess.DEVNULL,
                            start_new_session=new_session, text=True)


def _wait_until(condition, child: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert child.poll() is None, "the command ended before it was expected to"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# -- item 12: a display that does not answer -----------------------------------------------------


def _free_x_number() -> int:
    return next(n for n in range(99, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 displays are Linux's")
def test_a_display_nothing_answers_on_is_explained_before_qt_could_abort(home, tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "KENNING_HOME")}
    env["DISPLAY"] = f":{_free_x_number()}"
    for argv in ([], ["ask-folder", str(tmp_path)]):
        done = subprocess.run([sys.executable, "-m", "app.launch", "--home", str(home), *argv],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr  # Qt alone would abort: 134
        assert f"cannot reach the display (DISPLAY={env['DISPLAY']}" in done.stderr
        assert "kenning index" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 displays are Linux's")
def test_a_display_that_answers_is_reachable(tmp_path, monkeypatch):
    import socket

    from core.services import unreachable_display

    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with socket.socket() as server:  # an X server over TCP, as SSH forwards one
        port = next(p for p in range(6050, 6100) if _can_bind(server, p))
        server.listen()
        monkeypatch.setenv("DISPLAY", f"127.0.0.1:{port - 6000}.0")
        assert unreachable_display() is None
    monkeypatch.setenv("DISPLAY", f"127.0.0.1:{port - 6000}.0")
    assert unreachable_display() == f"DISPLAY=127.0.0.1:{port - 6000}.0"

    monkeypatch.setenv("DISPLAY", f":{_free_x_number()}")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-7")
    assert unreachable_display() == f"DISPLAY=:{_free_x_number()}"
    with socket.socket(socket.AF_UNIX) as compositor:
        compositor.bind(str(tmp_path / "wayland-7"))
        assert unreachable_display() is None


def _can_bind(sock, port: int) -> bool:
    try:
        sock.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
