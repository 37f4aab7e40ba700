"""macOS: a Finder Quick Action (an Automator service in ``~/Library/Services``).

The workflow has one "Run Shell Script" action with input passed *as arguments*
(``inputMethod`` 1), so each selected folder is one ``"$f"`` handed straight to
``<command> ask-folder``; no shell re-reads a path.
"""

from __future__ import annotations

import plistlib
import shlex
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.integrate.entries import MARKER, BundleEntry

MENU_LABEL = "Ask Kenning about this folder"
BUNDLE_NAME = f"{MENU_LABEL}.workflow"
ARGUMENTS_INPUT = 1  # Automator's "Pass input: as arguments" (0 is "to stdin")

# Fixed identifiers keep the generated bundle identical from one install to the next.
_NAMESPACE = uuid.UUID("6f1c2a52-4f0e-4b7e-9a52-6b656e6e696e")


def services_dir(home: Path) -> Path:
    return home / "Library" / "Services"


def shell_script(command: Sequence[str]) -> str:
    run = " ".join(shlex.quote(part) for part in command)
    return (f"# {MARKER}: added by `kenning integrate install`.\n"
            f'for f in "$@"; do\n'
            f'    {run} ask-folder "$f" >/dev/null 2>&1 &\n'
            f"done\n")


def info_plist() -> dict[str, Any]:
    return {
        "CFBundleName": MENU_LABEL,
        "CFBundleIdentifier": "org.kenning.ask-folder",
        MARKER: True,
        "NSServices": [{
            "NSMenuItem": {"default": MENU_LABEL},
            "NSMessage": "runWorkflowAsService",
            "NSRequiredContext": {"NSApplicationIdentifier": "com.apple.finder"},
            "NSSendFileTypes": ["public.folder"],
        }],
    }


def workflow(command: Sequence[str]) -> dict[str, Any]:
    def uid(name: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, name)).upper()

    action = {
        "AMAccepts": {"Container": "List", "Optional": True,
                      "Types": ["com.apple.cocoa.string"]},
        "AMActionVersion": "2.0.3",
        "AMApplication": ["Automator"],
        "AMParameterProperties": {"COMMAND_STRING": {}, "CheckedForUserDefaultShell": {},
                                  "inputMethod": {}, "shell": {}, "source": {}},
        "AMProvides": {"Container": "List", "Types": ["com.apple.cocoa.string"]},
        "ActionBundlePath": "/System/Library/Automator/Run Shell Script.action",
        "ActionName": "Run Shell Script",
        "ActionParameters": {
            "COMMAND_STRING": shell_script(command),
            "CheckedForUserDefaultShell": True,
            "inputMethod": ARGUMENTS_INPUT,
            "shell": "/bin/sh",
            "source": "",
        },
        "BundleIdentifier": "com.apple.RunShellScript",
        "CFBundleVersion": "2.0.3",
        "CanShowSelectedItemsWhenRun": False,
        "CanShowWhenRun": True,
        "Category": ["AMCategoryUtilities"],
        "Class Name": "RunShellScriptAction",
        "InputUUID": uid("input"),
        "Keywords": ["Shell", "Script", "Command", "Run", "Unix"],
        "OutputUUID": uid("output"),
        "UUID": uid("action"),
        "UnlocalizedApplications": ["Automator"],
        "isViewVisible": True,
    }
    return {
        "AMApplicationBuild": "523",
        "AMApplicationVersion": "2.10",
        "AMDocumentVersion": "2",
        "actions": [{"action": action}],
        "connectors": {},
        "workflowMetaData": {
            "serviceApplicationBundleID": "com.apple.finder",
            "serviceApplicationPath": "/System/Library/CoreServices/Finder.app",
            "serviceInputTypeIdentifier": "com.apple.Automator.fileSystemObject.folder",
            "serviceOutputTypeIdentifier": "com.apple.Automator.nothing",
            "serviceProcessesInput": 0,
            "workflowTypeIdentifier": "com.apple.Automator.servicesMenu",
        },
    }


def entries(home: Path, command: Sequence[str]) -> list[BundleEntry]:
    files = {
        "Contents/Info.plist": plistlib.dumps(info_plist()),
        "Contents/document.wflow": plistlib.dumps(workflow(command)),
    }
    return [BundleEntry("macos-quick-action", services_dir(home) / BUNDLE_NAME, files,
                        marker_file="Contents/Info.plist")]
