"""``kenning integrate install|uninstall`` as scripts and installers call it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from core.cli.main import main
from core.integrate import current_system, launch_command
from tests.core.integrate.test_integrate_support import make_receiver

pytestmark = pytest.mark.skipif(current_system() != "linux",
                                reason="installs the Linux entries into a temporary home")


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    user_home = tmp_path / "home"
    user_home.mkdir()
    monkeypatch.setenv("HOME", str(user_home))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return user_home


def run(capsys: pytest.CaptureFixture[str], tmp_path: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--home", str(tmp_path / "kenning-data"), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_dry_run_json_lists_everything_and_writes_nothing(home, tmp_path, capsys) -> None:
    receiver, _ = make_receiver(tmp_path)
    code, out, _ = run(capsys, tmp_path, "integrate", "install", "--exe", str(receiver),
                       "--all", "--dry-run", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["action"] == "install" and data["dry_run"] is True
    assert data["system"] == "linux"
    assert data["command"] == [str(receiver)]
    assert [e["kind"] for e in data["entries"]] == [
        "desktop-entry", "nautilus-script", "dolphin-service-menu", "thunar-action"]
    assert {e["status"] for e in data["entries"]} == {"would-write"}
    assert all(e["path"].startswith(str(home)) and e["content"] for e in data["entries"])
    assert data["skipped"] == []
    assert not any(home.iterdir())


def test_install_then_uninstall(home, tmp_path, capsys) -> None:
    receiver, _ = make_receiver(tmp_path)
    code, out, _ = run(capsys, tmp_path, "integrate", "install", "--exe", str(receiver),
                       "--all", "--json")
    assert code == 0
    entries = json.loads(out)["entries"]
    assert {e["status"] for e in entries} == {"written"}
    assert all(Path(e["path"]).is_file() for e in entries)

    code, out, _ = run(capsys, tmp_path, "integrate", "uninstall", "--dry-run")
    assert code == 0 and "would remove" in out and "nothing was changed" in out
    assert all(Path(e["path"]).is_file() for e in entries)

    code, out, _ = run(capsys, tmp_path, "integrate", "uninstall", "--json")
    data = json.loads(out)
    assert code == 0 and data["action"] == "uninstall" and "command" not in data
    assert {e["status"] for e in data["entries"]} == {"removed"}
    assert not [p for p in home.rglob("*") if p.is_file()]


def test_plain_output_names_each_entry(home, tmp_path, capsys) -> None:
    receiver, _ = make_receiver(tmp_path)
    code, out, _ = run(capsys, tmp_path, "integrate", "install", "--exe", str(receiver),
                       "--all")
    assert code == 0
    assert "added        nautilus-script:" in out
    assert 'choose "Ask Kenning about this folder"' in out


def test_a_missing_exe_is_refused(home, tmp_path, capsys) -> None:
    code, _, err = run(capsys, tmp_path, "integrate", "install", "--exe",
                       str(tmp_path / "nowhere" / "kenning.exe"))
    assert code == 1 and "there is no program at" in err
    assert not any(home.iterdir())


def test_launch_command_choices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert launch_command(str(tmp_path / "k")) == [str(tmp_path / "k")]
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text("", encoding="utf-8")
    monkeypatch.setattr(sys, "executable", str(python))
    assert launch_command(None) == [str(python), "-m", "app.launch"]
    (bin_dir / "kenning").write_text("", encoding="utf-8")
    assert launch_command(None) == [str(bin_dir / "kenning")]

    frozen = tmp_path / "Kenning" / "kenning-cli.exe"
    frozen.parent.mkdir()
    frozen.write_text("", encoding="utf-8")
    monkeypatch.setattr(sys, "executable", str(frozen))
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert launch_command(None) == [str(frozen)]
    (frozen.parent / "kenning.exe").write_text("", encoding="utf-8")
    assert launch_command(None) == [str(frozen.parent / "kenning.exe")]  # no console window
