"""Shared by the integration-entry tests: a hostile folder, a stand-in receiver, and the
launchers' own substitution rules (Desktop Entry spec, Thunar) implemented independently."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Everything a shell or a launcher could misread, in one folder name.
HOSTILE_NAME = (
    "it's a \"dir\" $HOME `id` $(id) ; & | \\back\\slash\nnew line\t"
    "Ünïcødé 文件 %f %% *?[x] ~"
)
# The receiver's own folder is hostile too, so the command part of every entry is tested.
RECEIVER_DIR_NAME = "bin dir 'q' \"dq\" $PATH `x` 100% \\b"


def make_receiver(root: Path) -> tuple[Path, Path]:
    """An executable that appends its argv (as JSON, one call per line) to a log file."""
    folder = root / RECEIVER_DIR_NAME
    folder.mkdir(parents=True)
    log = root / "received.jsonl"
    receiver = folder / "kenning receiver"
    receiver.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"with open({str(log)!r}, 'a', encoding='utf-8', errors='surrogateescape') as f:\n"
        "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n",
        encoding="utf-8",
    )
    receiver.chmod(0o755)
    return receiver, log


def received(log: Path, calls: int = 1, timeout: float = 10.0) -> list[list[str]]:
    """The argv of each call, waiting for ``calls`` of them (launchers start it detached)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.is_file():
            lines = log.read_text(encoding="utf-8").splitlines()
            if len(lines) >= calls:
                return [json.loads(line) for line in lines]
        time.sleep(0.05)
    raise AssertionError(f"the receiver was not called {calls} time(s) within {timeout} s")


def desktop_exec_argv(value: str, path: str) -> list[str]:
    """Expand an ``Exec`` value as the Desktop Entry spec says, with ``%f`` = ``path``.

    1. string escapes (``\\s \\n \\t \\r \\\\``); 2. split on spaces, double-quoted arguments
    take ``\\`` before ``" ` $ \\``; 3. field codes: ``%f`` alone is the file, ``%%`` is ``%``.
    """
    escapes = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    text, i = "", 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value) and value[i + 1] in escapes:
            text += escapes[value[i + 1]]
            i += 2
        else:
            text += value[i]
            i += 1
    reserved = set(" \t\n\"'\\><~|&;$*?#()`")
    args: list[str] = []
    current: str | None = None
    i = 0
    while i < len(text):
        char = text[i]
        if char == '"':
            current = current or ""
            i += 1
            while text[i] != '"':
                if text[i] == "\\":
                    assert text[i + 1] in '"`$\\', f"bad escape in quoted argument: {text!r}"
                    i += 1
                current += text[i]
                i += 1
            i += 1
        elif char == " ":
            if current is not None:
                args.append(current)
            current = None
            i += 1
        else:
            assert char not in reserved, f"reserved {char!r} outside quotes in {text!r}"
            current = (current or "") + char
            i += 1
    if current is not None:
        args.append(current)
    return [path if arg == "%f" else arg.replace("%%", "%") for arg in args]


def g_shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def thunar_expand(command: str, path: str) -> str:
    """Thunar's ``%f``: the path through ``g_shell_quote``; ``%%`` a literal ``%``."""
    out, i = "", 0
    while i < len(command):
        if command[i] == "%" and i + 1 < len(command):
            code = command[i + 1]
            out += {"f": g_shell_quote(path), "%": "%"}.get(code, "")
            i += 2
        else:
            out += command[i]
            i += 1
    return out


def desktop_keys(text: str, group: str) -> dict[str, str]:
    keys: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("["):
            current = line.strip("[]")
        elif "=" in line and current == group:
            key, value = line.split("=", 1)
            keys[key] = value
    return keys


# The helpers above stand in for real launchers, so they are checked against them.


def test_exec_parser_follows_the_spec_examples() -> None:
    value = r'"/opt/my app/run" "a\\\\b \\$x %%" %f --flag'
    assert desktop_exec_argv(value, "/p q") == ["/opt/my app/run", "a\\b $x %", "/p q",
                                                "--flag"]
    with pytest.raises(AssertionError):
        desktop_exec_argv("/bin/echo a;b %f", "/p")


@pytest.mark.skipif(shutil.which("gio") is None, reason="needs GLib's gio launcher")
def test_exec_parser_agrees_with_glib(tmp_path: Path) -> None:
    receiver, log = make_receiver(tmp_path)
    folder = tmp_path / HOSTILE_NAME
    folder.mkdir()
    from core.integrate.linux import exec_value

    value = exec_value([str(receiver), "x %f y"], "ask-folder", "%f")
    desktop = tmp_path / "probe.desktop"
    desktop.write_text(f"[Desktop Entry]\nType=Application\nName=probe\nExec={value}\n",
                       encoding="utf-8")
    subprocess.run(["gio", "launch", str(desktop), str(folder)], check=True, timeout=20)
    expected = desktop_exec_argv(value, str(folder))
    assert expected[:2] == ["env", str(receiver)]  # a % in the program's path needs env
    assert received(log) == [expected[2:]]
    assert expected[2:] == ["x %f y", "ask-folder", str(folder)]


def test_thunar_expansion_survives_sh(tmp_path: Path) -> None:
    line = thunar_expand("printf %%s %f", HOSTILE_NAME)
    out = subprocess.run(["/bin/sh", "-c", line], capture_output=True, check=True).stdout
    assert out.decode("utf-8") == HOSTILE_NAME
