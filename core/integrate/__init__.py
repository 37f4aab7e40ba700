"""The "Ask Kenning about this folder" right-click entry, per user, on each system.

    plan = plan_install("linux", Path.home(), launch_command(None), os.environ)
    report = apply(plan, "install", dry_run=True)     # what would be written
    apply(plan_uninstall("linux", Path.home(), os.environ), "uninstall")

Every entry runs exactly ``<command> ask-folder PATH`` with the folder as one argument.
Everything takes the home folder as a parameter so tests install into a temporary one.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.integrate import linux, macos, windows
from core.integrate.entries import Entry, Outcome

SYSTEMS = ("linux", "windows", "macos")


def current_system() -> str:
    if sys.platform == "win32":
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return "linux"


def launch_command(exe: str | None) -> list[str]:
    """The program the entries start, as argv elements (absolute paths).

    ``exe`` when given (the installers pass the frozen window program); else, in a frozen
    build, this executable (on Windows the window program ``kenning.exe`` beside
    ``kenning-cli.exe``); else the ``kenning`` console script beside this Python; else
    ``python -m app.launch``.
    """
    if exe:
        return [os.path.abspath(os.path.expanduser(exe))]
    executable = Path(sys.executable)
    if getattr(sys, "frozen", False):
        window_program = executable.with_name("kenning.exe")
        if executable.name.lower() == "kenning-cli.exe" and window_program.is_file():
            return [str(window_program)]
        return [str(executable)]
    for name in ("kenning", "kenning.exe"):
        script = executable.with_name(name)
        if script.is_file():
            return [os.path.abspath(script)]
    return [os.path.abspath(executable), "-m", "app.launch"]


@dataclass
class Plan:
    system: str
    entries: list[Entry]
    command: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


def plan_install(
    system: str,
    home: Path,
    command: Sequence[str],
    env: Mapping[str, str],
    which: Callable[[str], str | None] = shutil.which,
    everything: bool = False,
) -> Plan:
    if system == "linux":
        chosen, skipped = linux.entries(home, command, env, which, everything)
        return Plan(system, chosen, list(command), skipped)
    if system == "windows":
        return Plan(system, list(windows.entries(command)), list(command))
    if system == "macos":
        return Plan(system, list(macos.entries(home, command)), list(command))
    raise ValueError(f"unknown system {system!r}; expected one of {', '.join(SYSTEMS)}")


def plan_uninstall(system: str, home: Path, env: Mapping[str, str]) -> Plan:
    """Everything install could have added, whichever file managers were present then."""
    if system == "linux":
        return Plan(system, linux.all_entries(home, env))
    return plan_install(system, home, ["kenning"], env)


@dataclass
class Report:
    action: str
    dry_run: bool
    plan: Plan
    outcomes: list[Outcome]

    @property
    def failed(self) -> bool:
        return any(outcome.status == "error" for outcome in self.outcomes)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.action,
            "system": self.plan.system,
            "dry_run": self.dry_run,
            "entries": [outcome.to_json() for outcome in self.outcomes],
            "skipped": self.plan.skipped,
        }
        if self.action == "install":
            out["command"] = self.plan.command
        if self.dry_run:
            previews = {entry.location: entry.preview() for entry in self.plan.entries}
            for item in out["entries"]:
                if self.action == "install":
                    item["content"] = previews[item["path"]]
            if self.plan.system == "windows":
                out["reg"] = windows.reg_export(
                    [e for e in self.plan.entries if isinstance(e, windows.RegistryEntry)],
                    remove=self.action == "uninstall")
        return out


def apply(plan: Plan, action: str, dry_run: bool = False) -> Report:
    """Install or uninstall every entry of ``plan``; one entry failing does not stop the rest."""
    outcomes = []
    for entry in plan.entries:
        try:
            outcome = entry.install(dry_run) if action == "install" else entry.uninstall(dry_run)
        except OSError as error:
            outcome = Outcome(entry.kind, entry.location, "error", str(error))
        outcomes.append(outcome)
    return Report(action, dry_run, plan, outcomes)


def installed_here(home: Path | None = None) -> bool:
    """Whether any of Kenning's right-click entries is present for this user."""
    plan = plan_uninstall(current_system(), home or Path.home(), os.environ)
    report = apply(plan, "uninstall", dry_run=True)
    return any(outcome.status == "would-remove" for outcome in report.outcomes)


def change_here(install: bool, home: Path | None = None) -> Report:
    """Add (for the file managers found) or remove the entries for this user, running this
    Kenning; what the settings window offers."""
    home = home or Path.home()
    system = current_system()
    if install:
        return apply(plan_install(system, home, launch_command(None), os.environ), "install")
    return apply(plan_uninstall(system, home, os.environ), "uninstall")
