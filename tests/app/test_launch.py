"""Without the system libraries Qt's display plugin needs, Kenning says which packages to
install (for the user's distribution) and how to use the command line meanwhile: exit 1, no
traceback, nothing of Qt's own abort."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from app import launch
from app.launch import display_libraries_message, missing_display_libraries
from core.cli import exit_codes


@pytest.mark.skipif(sys.platform != "linux", reason="Qt's X11 plugin is Linux's")
def test_the_plugins_missing_libraries_are_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    # The Python binary's own libraries are all there; Qt's plugin may lack some here.
    assert missing_display_libraries(Path(sys.executable).resolve()) == []
    import PySide6

    real = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    missing = missing_display_libraries(real)
    assert all(name.startswith("lib") and ".so" in name for name in missing)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert missing_display_libraries(real) == []


def test_the_message_names_packages_for_each_distribution() -> None:
    text = display_libraries_message(["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libfoo.so.9"])
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4" in text
    assert "sudo dnf install xcb-util-cursor xcb-util-wm" in text
    assert "sudo pacman -S xcb-util-cursor xcb-util-wm" in text
    assert "libfoo.so.9" in text and "kenning search" in text


def test_the_window_is_not_started_without_them(home, monkeypatch: pytest.MonkeyPatch,
                                                capsys) -> None:
    monkeypatch.setattr(launch, "missing_display_libraries", lambda: ["libxcb-cursor.so.0"])
    monkeypatch.setenv("DISPLAY", ":0")
    assert launch.main([]) == exit_codes.ERROR
    assert "sudo apt install libxcb-cursor0" in capsys.readouterr().err
