"""``kenning integrate install | uninstall``: the right-click "Ask Kenning about this folder".

    kenning integrate install --dry-run          # show what would be written, change nothing
    kenning integrate install --exe "C:\\Program Files\\Kenning\\kenning.exe"
    kenning integrate uninstall --json

For the current user only; needs no index, no model and no administrator rights.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.cli import exit_codes

if TYPE_CHECKING:
    from core.integrate import Report

_DONE = {"written": "added", "would-write": "would add", "removed": "removed",
         "would-remove": "would remove", "absent": "not present", "error": "NOT CHANGED"}


def add_integrate_parser(sub: Any) -> None:
    p = sub.add_parser("integrate", help='add or remove the right-click "Ask Kenning" entry')
    actions = p.add_subparsers(dest="integrate_action", metavar="ACTION", required=True)
    install = actions.add_parser("install", help="add the entry for file managers (this user)")
    install.add_argument("--exe", help="the program the entry starts (default: this Kenning)")
    install.add_argument("--all", dest="everything", action="store_true",
                         help="Linux: add it for every supported file manager, even absent ones")
    remove = actions.add_parser("uninstall", help="remove the entry again")
    for parser in (install, remove):
        parser.add_argument("--dry-run", action="store_true",
                            help="print what would change and change nothing")
        parser.add_argument("--json", action="store_true", help="machine-readable output")


def run_integrate_command(args: argparse.Namespace, home: Path | None = None) -> int:
    # Imported here: every command builds this parser; only `integrate` needs the entries.
    from core.integrate import apply, current_system, launch_command, plan_install, plan_uninstall

    home = home or Path.home()
    system = current_system()
    if args.integrate_action == "install":
        if args.exe and not Path(args.exe).expanduser().is_file():
            print(f"kenning: there is no program at {args.exe}; give --exe the path of the "
                  "Kenning program to start.", file=sys.stderr)
            return exit_codes.ERROR
        plan = plan_install(system, home, launch_command(args.exe), os.environ,
                            everything=args.everything)
    else:
        plan = plan_uninstall(system, home, os.environ)
    report = apply(plan, args.integrate_action, dry_run=args.dry_run)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        _print_report(report)
    return exit_codes.ERROR if report.failed else exit_codes.OK


def _print_report(report: Report) -> None:
    if report.action == "install":
        print("Command: " + " ".join(report.plan.command))
    previews = {entry.location: entry.preview() for entry in report.plan.entries}
    for outcome in report.outcomes:
        line = f"{_DONE[outcome.status]:12} {outcome.kind}: {outcome.path}"
        print(line + (f" ({outcome.message})" if outcome.message else ""))
        if report.dry_run and report.action == "install":
            print("    " + previews[outcome.path].replace("\n", "\n    ").rstrip())
    for skipped in report.plan.skipped:
        print(f"{'skipped':12} {skipped['kind']}: {skipped['reason']}")
    if report.dry_run:
        print("Dry run: nothing was changed.")
    elif report.failed:
        print("Some entries could not be changed; see the notes above.", file=sys.stderr)
    elif report.action == "install":
        print('Done. Right-click a folder and choose "Ask Kenning about this folder" '
              "(a file manager that is open may need a restart to show it).")
