"""Starting the background service at login, once the user agrees: an XDG autostart entry
on Linux, a LaunchAgent on macOS, a value under the user's Run key on Windows.

Each is an entry of ``core/integrate/entries.py``, so ``--dry-run`` shows what would be
written, and disabling removes exactly what enabling wrote (and never a file Kenning did not
make). Everything takes the home folder as a parameter so tests use a temporary one.

    report = change_autostart(True, "linux", Path.home(), os.environ, launch_command(None))
"""

from __future__ import annotations

import contextlib
import plistlib
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from core.integrate import Plan, Report, apply, linux, windows
from core.integrate.entries import MARKER, Entry, FileEntry

LAUNCH_AGENT_LABEL = "org.kenning.service"


def service_command(command: Sequence[str], home_folder: Path | None) -> list[str]:
    """``command`` (the ``kenning`` program) running the service for a data folder."""
    chosen = ["--home", str(home_folder)] if home_folder is not None else []
    return [*command, *chosen, "service", "run"]


def autostart_entries(system: str, home: Path, env: Mapping[str, str],
                      command: Sequence[str]) -> list[Entry]:
    if system == "windows":
        line = " ".join(f'"{part}"' for part in command)
        return [windows.RunValue("windows-run", "Kenning", line)]
    if system == "macos":
        agent: dict[str, object] = {
            "Label": LAUNCH_AGENT_LABEL,
            "ProgramArguments": list(command),
            "RunAtLoad": True,
            "ProcessType": "Background",
            MARKER: True,
        }
        path = home / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"
        return [FileEntry("launch-agent", path, plistlib.dumps(agent).decode("utf-8"))]
    content = f"""[Desktop Entry]
Type=Application
Name=Kenning
Comment=Keeps your folders searchable in the background
Exec={linux.exec_value(command)}
Icon={linux.ICON}
NoDisplay=true
Terminal=false
X-GNOME-Autostart-enabled=true
{MARKER}=true
"""
    path = linux.config_home(home, env) / "autostart" / "kenning-service.desktop"
    return [FileEntry("xdg-autostart", path, content)]


def change_autostart(enable: bool, system: str, home: Path, env: Mapping[str, str],
                     command: Sequence[str], dry_run: bool = False) -> Report:
    plan = Plan(system, autostart_entries(system, home, env, command), list(command))
    report = apply(plan, "install" if enable else "uninstall", dry_run)
    if system == "macos" and not dry_run and not report.failed:
        _tell_launchd(enable, home)
    return report


def autostart_enabled(system: str, home: Path, env: Mapping[str, str]) -> bool:
    entries = autostart_entries(system, home, env, ["kenning"])
    return all(entry.uninstall(dry_run=True).status == "would-remove" for entry in entries)


def _tell_launchd(enable: bool, home: Path) -> None:
    """Load (or unload) the agent now, so it takes effect without logging out."""
    plist = home / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"
    verb = "load" if enable else "unload"
    # Should launchctl fail, the agent still applies at the next login.
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(["launchctl", verb, "-w", str(plist)], capture_output=True, timeout=20)
