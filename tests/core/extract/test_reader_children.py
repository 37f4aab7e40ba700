"""The extraction children and signals: an interrupt that reaches the whole process group
(Ctrl+C in a terminal) is the parent's to handle, and a child never outlives its parent,
however the parent died. Real processes throughout (``tests/slow_reader.py``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _start(file: Path, slow_s: float) -> tuple[subprocess.Popen[str], int]:
    env = {**os.environ, "KENNING_TEST_SLOW_S": str(slow_s)}
    # A process group of its own, as a shell gives a command.
    parent = subprocess.Popen([sys.executable, "-m", "tests.slow_reader", str(file)], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert parent.stdout is not None
    return parent, int(parent.stdout.readline())


def _gone(pid: int) -> bool:
    """Ended (a zombie waiting for whoever adopted it counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


@pytest.fixture
def note(tmp_path: Path) -> Path:
    path = tmp_path / "note.txt"
    path.write_text("A short note about the harbour.", encoding="utf-8")
    return path


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGINT are POSIX's")
def test_ctrl_c_reaching_the_whole_group_leaves_the_reader_reading(note):
    parent, child = _start(note, slow_s=3)
    try:
        time.sleep(1.0)  # the child is busy with the file now
        os.killpg(parent.pid, signal.SIGINT)  # what a terminal's Ctrl+C does
        out, _ = parent.communicate(timeout=60)
    finally:
        if parent.poll() is None:
            os.killpg(parent.pid, signal.SIGKILL)
    assert "noted interrupt" in out
    assert "read 1" in out, out  # not "failed the file reader crashed on this file"
    assert _gone(child)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_reader_never_outlives_a_killed_parent(note):
    parent, child = _start(note, slow_s=600)
    time.sleep(1.0)
    assert not _gone(child)
    parent.kill()  # kill -9: nothing in the parent runs to stop its child
    parent.wait(timeout=10)
    deadline = time.monotonic() + 5
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    gone = _gone(child)
    if not gone:
        os.kill(child, signal.SIGKILL)
    assert gone, "the reader kept running after its parent was killed"
