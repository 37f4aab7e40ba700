"""The macOS Quick Action and the Windows registry entries, generated on any system and
checked as data (plists, registry values, .reg text); the Quick Action's shell script is run."""

from __future__ import annotations

import os
import plistlib
import subprocess
from pathlib import Path

import pytest

from core.integrate import apply, plan_install, plan_uninstall
from core.integrate.entries import BundleEntry
from core.integrate.macos import ARGUMENTS_INPUT, BUNDLE_NAME
from core.integrate.windows import RegistryEntry, command_line, reg_export
from tests.core.integrate.test_integrate_support import HOSTILE_NAME, make_receiver, received

EXE = r"C:\Users\Zoë O'Neil\AppData\Local\Programs\Kenning\kenning.exe"


def test_quick_action_bundle_structure(tmp_path: Path) -> None:
    plan = plan_install("macos", tmp_path, ["/Applications/Kenning.app/Contents/MacOS/kenning"],
                        {})
    assert apply(plan, "install").outcomes[0].status == "written"
    bundle = tmp_path / "Library/Services" / BUNDLE_NAME
    info = plistlib.loads((bundle / "Contents/Info.plist").read_bytes())
    (service,) = info["NSServices"]
    assert service["NSMenuItem"]["default"] == "Ask Kenning about this folder"
    assert service["NSMessage"] == "runWorkflowAsService"
    assert service["NSSendFileTypes"] == ["public.folder"]
    assert service["NSRequiredContext"]["NSApplicationIdentifier"] == "com.apple.finder"

    flow = plistlib.loads((bundle / "Contents/document.wflow").read_bytes())
    meta = flow["workflowMetaData"]
    assert meta["workflowTypeIdentifier"] == "com.apple.Automator.servicesMenu"
    assert meta["serviceInputTypeIdentifier"] == "com.apple.Automator.fileSystemObject.folder"
    (step,) = flow["actions"]
    action = step["action"]
    assert action["ActionName"] == "Run Shell Script"
    assert action["BundleIdentifier"] == "com.apple.RunShellScript"
    params = action["ActionParameters"]
    assert params["inputMethod"] == ARGUMENTS_INPUT == 1  # "as arguments", not stdin
    assert params["shell"] == "/bin/sh"
    assert '/Applications/Kenning.app/Contents/MacOS/kenning ask-folder "$f"' in (
        params["COMMAND_STRING"])


@pytest.mark.skipif(os.name != "posix", reason="runs the script with /bin/sh")
def test_quick_action_script_hands_over_each_exact_path(tmp_path: Path) -> None:
    receiver, log = make_receiver(tmp_path)
    (entry,) = plan_install("macos", tmp_path, [str(receiver)], {}).entries
    assert isinstance(entry, BundleEntry)
    flow = plistlib.loads(entry.files["Contents/document.wflow"])
    script = flow["actions"][0]["action"]["ActionParameters"]["COMMAND_STRING"]
    first, second = str(tmp_path / HOSTILE_NAME), str(tmp_path / "plain")
    # Automator runs the shell with the selected folders as the script's arguments.
    subprocess.run(["/bin/sh", "-c", script, "sh", first, second], check=True, timeout=20)
    calls = received(log, calls=2)
    assert sorted(calls) == sorted([["ask-folder", first], ["ask-folder", second]])


def test_quick_action_install_is_idempotent_and_uninstall_removes_it(tmp_path: Path) -> None:
    other = tmp_path / "Library/Services/Someone else.workflow"
    other.mkdir(parents=True)
    plan = plan_install("macos", tmp_path, ["/Applications/Kenning.app/Contents/MacOS/kenning"],
                        {})
    apply(plan, "install")
    first = sorted(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    apply(plan, "install")
    assert sorted(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()) == first
    assert apply(plan_uninstall("macos", tmp_path, {}), "uninstall").outcomes[0].status == (
        "removed")
    assert not (tmp_path / "Library/Services" / BUNDLE_NAME).exists()
    assert other.is_dir()
    assert apply(plan_uninstall("macos", tmp_path, {}), "uninstall").outcomes[0].status == (
        "absent")


def test_windows_registry_plan(tmp_path: Path) -> None:
    plan = plan_install("windows", tmp_path, [EXE], {})
    entries = [e for e in plan.entries if isinstance(e, RegistryEntry)]
    values = {(v.key, v.name): v.value for e in entries for v in e.values}
    folder = r"Software\Classes\Directory\shell\Kenning"
    background = r"Software\Classes\Directory\Background\shell\Kenning"
    assert values[(folder, "MUIVerb")] == "Ask Kenning about this folder"
    assert values[(folder, "Icon")] == f'"{EXE}",0'
    assert values[(folder + r"\command", "")] == f'"{EXE}" ask-folder "%1"'
    assert values[(background + r"\command", "")] == f'"{EXE}" ask-folder "%V"'
    assert values[(background, "MUIVerb")] == "Ask Kenning about this folder"
    assert [e.location for e in entries] == [f"HKEY_CURRENT_USER\\{folder}",
                                             f"HKEY_CURRENT_USER\\{background}"]


def test_windows_reg_export_escapes_backslashes_and_quotes() -> None:
    entries = plan_install("windows", Path("unused"), [EXE], {}).entries
    reg = reg_export([e for e in entries if isinstance(e, RegistryEntry)])
    lines = reg.split("\r\n")
    assert lines[0] == "Windows Registry Editor Version 5.00"
    assert r"[HKEY_CURRENT_USER\Software\Classes\Directory\shell\Kenning\command]" in lines
    escaped = EXE.replace("\\", "\\\\")
    assert f'@="\\"{escaped}\\" ask-folder \\"%1\\""' in lines
    assert f'@="\\"{escaped}\\" ask-folder \\"%V\\""' in lines
    removal = reg_export([e for e in entries if isinstance(e, RegistryEntry)], remove=True)
    assert r"[-HKEY_CURRENT_USER\Software\Classes\Directory\shell\Kenning]" in removal


def windows_argv(line: str) -> list[str]:
    """How the Microsoft C runtime (and so Python's sys.argv on Windows) splits a command line:
    backslashes are literal unless they come before a quote."""
    args: list[str] = []
    current, quoted, started, i = "", False, False, 0
    while i < len(line):
        slashes = 0
        while i < len(line) and line[i] == "\\":
            slashes, i = slashes + 1, i + 1
        if i < len(line) and line[i] == '"':
            current += "\\" * (slashes // 2)
            if slashes % 2:
                current += '"'
            else:
                quoted = not quoted
            started, i = True, i + 1
            continue
        current += "\\" * slashes
        if i >= len(line):
            break
        if line[i] in " \t" and not quoted:
            if started or current:
                args.append(current)
            current, started = "", False
        else:
            current += line[i]
        i += 1
    if started or current:
        args.append(current)
    return args


@pytest.mark.parametrize("folder", [
    r"C:\Users\Zoë\it's a $HOME `id` ; & | %PATH% 文件 (1)",
    r"\\server\share\a b",
])
def test_explorer_command_gives_the_exact_folder(folder: str) -> None:
    for line in (command_line([EXE], "%1"), command_line([EXE], "%V")):
        # Explorer puts the folder in place of %1 / %V, inside the quotes written for it.
        expanded = line.replace("%1", folder).replace("%V", folder)
        assert windows_argv(expanded) == [EXE, "ask-folder", folder]


def test_windows_command_line_keeps_a_python_launch_together() -> None:
    assert command_line([r"C:\Python 3\python.exe", "-m", "app.launch"], "%1") == (
        r'"C:\Python 3\python.exe" "-m" "app.launch" ask-folder "%1"')


def test_windows_dry_run_json_carries_the_reg_export(tmp_path: Path) -> None:
    report = apply(plan_install("windows", tmp_path, [EXE], {}), "install", dry_run=True)
    out = report.to_json()
    assert out["action"] == "install" and out["dry_run"] is True
    assert out["reg"].startswith("Windows Registry Editor Version 5.00")
    assert [e["status"] for e in out["entries"]] == ["would-write", "would-write"]
