"""Linux right-click entries, written into a temporary home and actually run with a hostile
folder name against a stand-in receiver: the receiver must get exactly that path."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from core.integrate import apply, plan_install, plan_uninstall
from core.integrate.linux import thunar_command
from tests.core.integrate.test_integrate_support import (
    HOSTILE_NAME,
    desktop_exec_argv,
    desktop_keys,
    make_receiver,
    received,
    thunar_expand,
)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="runs POSIX shell scripts")

USER_UCA = """<?xml version="1.0" encoding="UTF-8"?>
<actions>
<!-- my own actions -->
<action>
\t<icon>utilities-terminal</icon>
\t<name>Open Terminal Here</name>
\t<unique-id>1600000000000000-1</unique-id>
\t<command>exo-open --working-directory %f --launch TerminalEmulator</command>
\t<description>Example for a custom action</description>
\t<patterns>*</patterns>
\t<startup-notify/>
\t<directories/>
</action>
</actions>
"""


def no_file_managers(program: str) -> str | None:
    return None


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """(home, receiver, receiver log, hostile folder)."""
    home = tmp_path / "home"
    home.mkdir()
    receiver, log = make_receiver(tmp_path)
    folder = tmp_path / "docs" / HOSTILE_NAME
    folder.mkdir(parents=True)
    return home, receiver, log, folder


def install(home: Path, receiver: Path, env: dict[str, str] | None = None) -> None:
    plan = plan_install("linux", home, [str(receiver)], env or {}, no_file_managers,
                        everything=True)
    report = apply(plan, "install")
    assert [o.status for o in report.outcomes] == ["written"] * 4


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_desktop_entry_and_its_action_hand_over_the_exact_path(setup) -> None:
    home, receiver, log, folder = setup
    install(home, receiver)
    text = (home / ".local/share/applications/kenning-ask-folder.desktop").read_text("utf-8")
    main, action = desktop_keys(text, "Desktop Entry"), desktop_keys(
        text, "Desktop Action ask-folder")
    assert main["MimeType"] == "inode/directory;"
    assert main["Actions"] == "ask-folder;"
    assert action["Name"] == "Ask Kenning about this folder"
    assert action["Exec"] == main["Exec"]
    argv = desktop_exec_argv(action["Exec"], str(folder))
    subprocess.run(argv, check=True, timeout=20)
    assert received(log) == [["ask-folder", str(folder)]]


@pytest.mark.skipif(shutil.which("gio") is None, reason="needs GLib's gio launcher")
def test_glib_launches_the_desktop_entry_with_the_exact_path(setup) -> None:
    home, receiver, log, folder = setup
    install(home, receiver)
    desktop = home / ".local/share/applications/kenning-ask-folder.desktop"
    subprocess.run(["gio", "launch", str(desktop), str(folder)], check=True, timeout=20)
    assert received(log) == [["ask-folder", str(folder)]]


def test_dolphin_service_menu_hands_over_the_exact_path(setup) -> None:
    home, receiver, log, folder = setup
    install(home, receiver)
    menu = home / ".local/share/kio/servicemenus/kenning-ask-folder.desktop"
    assert menu.stat().st_mode & stat.S_IXUSR, "KF6 ignores service menus that are not executable"
    text = menu.read_text("utf-8")
    entry = desktop_keys(text, "Desktop Entry")
    assert entry["Type"] == "Service"
    assert entry["MimeType"] == "inode/directory;"
    assert entry["X-KDE-ServiceTypes"] == "KonqPopupMenu/Plugin"
    action = desktop_keys(text, "Desktop Action " + entry["Actions"].rstrip(";"))
    subprocess.run(desktop_exec_argv(action["Exec"], str(folder)), check=True, timeout=20)
    assert received(log) == [["ask-folder", str(folder)]]


def run_nautilus_script(script: Path, cwd: Path, args: list[str], selected: str | None,
                        current: Path) -> None:
    env = dict(os.environ, NAUTILUS_SCRIPT_CURRENT_URI=current.as_uri())
    if selected is not None:
        env["NAUTILUS_SCRIPT_SELECTED_FILE_PATHS"] = selected + "\n"
    env.pop("PWD", None)
    subprocess.run([str(script), *args], cwd=cwd, env=env, check=True, timeout=20)


def test_nautilus_script_passes_the_selected_folder(setup) -> None:
    home, receiver, log, folder = setup
    install(home, receiver)
    script = home / ".local/share/nautilus/scripts/Ask Kenning about this folder"
    assert script.stat().st_mode & stat.S_IXUSR
    # As Nautilus runs it: in the folder shown, the selection as names relative to it.
    run_nautilus_script(script, folder.parent, [folder.name], str(folder), folder.parent)
    assert received(log) == [["ask-folder", str(folder)]]


def test_nautilus_script_on_the_background_and_on_a_file(setup) -> None:
    home, receiver, log, folder = setup
    install(home, receiver)
    script = home / ".local/share/nautilus/scripts/Ask Kenning about this folder"
    run_nautilus_script(script, folder, [], None, folder)  # nothing selected
    (folder / "notes.txt").write_text("x", encoding="utf-8")
    run_nautilus_script(script, folder, ["notes.txt"], str(folder / "notes.txt"), folder)
    run_nautilus_script(script, home, [str(folder)], str(folder), home)  # absolute argument
    assert received(log, calls=3) == [["ask-folder", str(folder)]] * 3


def test_thunar_action_hands_over_the_exact_path(setup) -> None:
    home, receiver, log, folder = setup
    install(home, receiver)
    root = ET.parse(home / ".config/Thunar/uca.xml").getroot()
    (action,) = [a for a in root.findall("action")
                 if a.findtext("unique-id") == "kenning-ask-folder"]
    # Only elements every Thunar version knows (an unknown one voids the whole file).
    assert [child.tag for child in action] == [
        "icon", "name", "unique-id", "command", "description", "patterns", "directories"]
    command = action.findtext("command") or ""
    assert command == thunar_command([str(receiver)])
    # Thunar: %f becomes the g_shell_quote-d path, then the line runs under /bin/sh -c.
    subprocess.run(["/bin/sh", "-c", thunar_expand(command, str(folder))], check=True,
                   timeout=20)
    assert received(log) == [["ask-folder", str(folder)]]


def test_thunar_merge_keeps_the_users_actions_and_uninstall_removes_only_ours(
        setup) -> None:
    home, receiver, _, _ = setup
    uca = home / ".config/Thunar/uca.xml"
    uca.parent.mkdir(parents=True)
    uca.write_text(USER_UCA, encoding="utf-8")
    install(home, receiver)
    install(home, receiver)  # again: replaces ours, never duplicates it
    root = ET.parse(uca).getroot()
    ids = [a.findtext("unique-id") for a in root.findall("action")]
    assert ids == ["1600000000000000-1", "kenning-ask-folder"]
    assert "my own actions" in uca.read_text("utf-8")

    apply(plan_uninstall("linux", home, {}), "uninstall")
    after = ET.parse(uca).getroot()
    assert [a.findtext("unique-id") for a in after.findall("action")] == ["1600000000000000-1"]
    mine = after.find("action")
    assert mine is not None and mine.findtext("command") == (
        "exo-open --working-directory %f --launch TerminalEmulator")
    assert mine.find("startup-notify") is not None
    assert uca.read_text("utf-8").endswith("</action>\n</actions>")


def test_a_broken_uca_xml_is_left_alone(setup) -> None:
    home, receiver, _, _ = setup
    uca = home / ".config/Thunar/uca.xml"
    uca.parent.mkdir(parents=True)
    uca.write_text("<actions><action>", encoding="utf-8")
    plan = plan_install("linux", home, [str(receiver)], {}, no_file_managers, everything=True)
    report = apply(plan, "install")
    statuses = {o.kind: o.status for o in report.outcomes}
    assert statuses["thunar-action"] == "error" and report.failed
    assert statuses["nautilus-script"] == "written"
    assert uca.read_text("utf-8") == "<actions><action>"


def test_uninstall_removes_exactly_what_install_added(setup) -> None:
    home, receiver, _, _ = setup
    scripts = home / ".local/share/nautilus/scripts"
    scripts.mkdir(parents=True)
    (scripts / "My own script").write_text("#!/bin/sh\necho mine\n", encoding="utf-8")
    # A user's file that happens to have our name is not ours to delete.
    menus = home / ".local/share/kio/servicemenus"
    menus.mkdir(parents=True)
    before = files_under(home)

    install(home, receiver)
    first = files_under(home)
    install(home, receiver)
    assert files_under(home) == first  # idempotent

    report = apply(plan_uninstall("linux", home, {}), "uninstall")
    assert {o.status for o in report.outcomes} == {"removed"}
    assert files_under(home) == before
    again = apply(plan_uninstall("linux", home, {}), "uninstall")
    assert {o.status for o in again.outcomes} == {"absent"}


def test_uninstall_keeps_a_same_named_file_it_did_not_write(tmp_path: Path) -> None:
    scripts = tmp_path / ".local/share/nautilus/scripts"
    scripts.mkdir(parents=True)
    theirs = scripts / "Ask Kenning about this folder"
    theirs.write_text("#!/bin/sh\necho someone else's\n", encoding="utf-8")
    report = apply(plan_uninstall("linux", tmp_path, {}), "uninstall")
    assert {o.kind: o.status for o in report.outcomes}["nautilus-script"] == "error"
    assert theirs.is_file()


def test_xdg_folders_are_respected(setup, tmp_path: Path) -> None:
    home, receiver, _, _ = setup
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    install(home, receiver, env)
    assert (tmp_path / "data/applications/kenning-ask-folder.desktop").is_file()
    assert (tmp_path / "data/nautilus/scripts/Ask Kenning about this folder").is_file()
    assert (tmp_path / "data/kio/servicemenus/kenning-ask-folder.desktop").is_file()
    assert (tmp_path / "cfg/Thunar/uca.xml").is_file()
    assert not any(home.iterdir())


def test_only_present_file_managers_get_an_entry(tmp_path: Path) -> None:
    def only_thunar(program: str) -> str | None:
        return "/usr/bin/thunar" if program == "thunar" else None

    (tmp_path / ".local/share/nautilus").mkdir(parents=True)  # Nautilus has been used
    plan = plan_install("linux", tmp_path, ["/usr/bin/kenning"], {}, only_thunar)
    assert [e.kind for e in plan.entries] == ["desktop-entry", "nautilus-script",
                                              "thunar-action"]
    assert [s["kind"] for s in plan.skipped] == ["dolphin-service-menu"]


def test_dry_run_writes_nothing(setup) -> None:
    home, receiver, _, _ = setup
    plan = plan_install("linux", home, [str(receiver)], {}, no_file_managers, everything=True)
    report = apply(plan, "install", dry_run=True)
    assert {o.status for o in report.outcomes} == {"would-write"}
    assert not any(home.iterdir())
    install(home, receiver)
    written = files_under(home)
    report = apply(plan_uninstall("linux", home, {}), "uninstall", dry_run=True)
    assert {o.status for o in report.outcomes} == {"would-remove"}
    assert files_under(home) == written
