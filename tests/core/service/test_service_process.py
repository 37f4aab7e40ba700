"""The background service as users run it: started by the first command, a process of its
own that outlives it, stopped by ``kenning service stop``, restarted after a kill -9 with an
exact index, and its login entries written and removed exactly."""

from __future__ import annotations

import json
import os
import plistlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from core.cli import exit_codes
from core.config import AppPaths
from core.index.pacing import SERVICE_NICENESS
from core.service.autostart import autostart_enabled, change_autostart, service_command
from core.service.protocol import connect
from core.store.database import Store
from tests.core.service.test_service import fill
from tests.index_checks import assert_consistent

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT_S = 120


def kenning(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KENNING_NO_SERVICE"}
    return subprocess.run([sys.executable, "-m", "tests.fake_service", "--home", str(home),
                           *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "home"
    yield path
    if connect(AppPaths.resolve(path)) is not None:
        kenning(path, "service", "stop")


def service_pid(home: Path) -> int:
    status = kenning(home, "service", "status", "--json")
    assert status.returncode == exit_codes.OK, status.stdout + status.stderr
    return int(json.loads(status.stdout)["pid"])


def test_the_first_command_starts_the_service_and_later_ones_use_it(
    home: Path, tmp_path: Path
) -> None:
    stopped = kenning(home, "service", "status")
    assert stopped.returncode == exit_codes.NOT_RUNNING
    assert "not running" in stopped.stdout

    folder = fill(tmp_path / "docs", 8)
    indexed = kenning(home, "index", str(folder))
    assert indexed.returncode == 0, indexed.stderr
    assert "8 files searchable by their words" in indexed.stdout
    pid = service_pid(home)
    assert pid != os.getpid()

    found = kenning(home, "search", "--json", "--mode", "lexical", "\"read 7 bar\"")
    assert found.returncode == 0, found.stderr
    data = json.loads(found.stdout)
    assert data["query"] == "\"read 7 bar\""
    assert [Path(h["path"]).name for h in data["hits"]] == ["note-007.txt"]

    status = json.loads(kenning(home, "status", "--json").stdout)
    assert status["service"]["running"] is True and status["service"]["pid"] == pid
    assert status["service"]["on_battery"] is False  # this test machine has no battery
    assert status["files"]["total"] == 8
    # A guest on the user's computer: the service runs below the user's programs.
    if sys.platform != "win32":
        assert psutil.Process(pid).nice() >= SERVICE_NICENESS

    stop = kenning(home, "service", "stop")
    assert stop.returncode == 0 and f"process {pid}" in stop.stdout
    assert kenning(home, "service", "status").returncode == exit_codes.NOT_RUNNING


def test_a_killed_service_is_restarted_by_the_next_command_and_the_index_is_exact(
    home: Path, tmp_path: Path
) -> None:
    folder = fill(tmp_path / "docs", 30)
    first = kenning(home, "index", str(folder))
    assert first.returncode == 0, first.stderr
    pid = service_pid(home)
    time.sleep(0.5)  # in the middle of embedding (the fake model is slowed down)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while connect(AppPaths.resolve(home)) is not None and time.monotonic() < deadline:
        time.sleep(0.1)

    again = kenning(home, "index", "--wait")
    assert again.returncode == 0, again.stderr
    assert service_pid(home) != pid
    store = Store.open_reader(AppPaths.resolve(home).database)
    try:
        assert store.files.state_counts()["embedded"] == 30, again.stdout + again.stderr
        assert_consistent(store, "fake-bow-64")
    finally:
        store.close()


def test_without_a_service_commands_run_on_their_own(home: Path, tmp_path: Path) -> None:
    folder = fill(tmp_path / "docs", 2)
    done = kenning(home, "--no-service", "index", str(folder))
    assert done.returncode == 0, done.stderr
    assert connect(AppPaths.resolve(home)) is None


def test_a_command_on_its_own_waits_for_the_running_service(
    home: Path, tmp_path: Path
) -> None:
    folder = fill(tmp_path / "docs", 2)
    assert kenning(home, "index", str(folder)).returncode == 0
    env = {k: v for k, v in os.environ.items() if k != "KENNING_NO_SERVICE"}
    alone = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_service", "--home", str(home), "--no-service",
         "index", str(folder)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        assert alone.stderr is not None
        line = alone.stderr.readline()
        assert "background service is looking after this library; waiting" in line
        assert alone.poll() is None
        assert kenning(home, "service", "stop").returncode == 0
        out, err = alone.communicate(timeout=TIMEOUT_S)
        assert alone.returncode == 0, err
        assert "Indexed: 2 searchable by meaning" in out
    finally:
        if alone.poll() is None:
            alone.kill()
            alone.wait()


@pytest.mark.parametrize("system", ["linux", "macos"])
def test_login_entries_are_written_and_removed_exactly(system: str, tmp_path: Path) -> None:
    user_home = tmp_path / "user"
    env = {"XDG_CONFIG_HOME": str(user_home / ".config")}
    command = service_command(["/opt/kenning/kenning"], Path("/data/kenning home"))
    assert command[-2:] == ["service", "run"] and "--home" in command
    assert not autostart_enabled(system, user_home, env)
    report = change_autostart(True, system, user_home, env, command)
    assert not report.failed
    [written] = [Path(o.path) for o in report.outcomes]
    assert written.is_file() and autostart_enabled(system, user_home, env)
    if system == "macos":
        agent = plistlib.loads(written.read_bytes())
        assert agent["ProgramArguments"] == command and agent["RunAtLoad"] is True
    else:
        assert written.parent.name == "autostart"
        exec_line = next(line for line in written.read_text().splitlines()
                         if line.startswith("Exec="))
        assert '"/data/kenning home"' in exec_line and exec_line.endswith('"service" "run"')
    before = sorted(p for p in user_home.rglob("*"))
    removed = change_autostart(False, system, user_home, env, command)
    assert [o.status for o in removed.outcomes] == ["removed"]
    assert not written.exists() and not autostart_enabled(system, user_home, env)
    assert sorted(p for p in user_home.rglob("*")) == [p for p in before if p != written]


def test_a_file_kenning_did_not_write_is_left_alone(tmp_path: Path) -> None:
    user_home = tmp_path / "user"
    env = {"XDG_CONFIG_HOME": str(user_home / ".config")}
    mine = user_home / ".config" / "autostart" / "kenning-service.desktop"
    mine.parent.mkdir(parents=True)
    mine.write_text("[Desktop Entry]\nExec=my-own-thing\n")
    report = change_autostart(False, "linux", user_home, env, ["kenning"])
    assert report.failed and mine.read_text().endswith("my-own-thing\n")


def test_the_windows_entry_is_one_run_value() -> None:
    report = change_autostart(True, "windows", Path("C:/Users/me"), {},
                              [r"C:\Program Files\Kenning\kenning.exe", "service", "run"],
                              dry_run=True)
    [outcome] = report.outcomes
    assert outcome.status == "would-write"
    assert outcome.path.endswith(r"CurrentVersion\Run\Kenning")
