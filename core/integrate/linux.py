"""Linux: a .desktop action, a Nautilus script, a Dolphin service menu and a Thunar action.

Every one of them hands the folder to ``<command> ask-folder PATH`` as one argv element:

- Desktop Entry ``Exec`` lines (the .desktop file and the Dolphin service menu) keep the field
  code ``%f`` unquoted; the launcher (GLib, KIO) substitutes it as a single argument.
- The Nautilus script passes ``"$@"`` on, which is exact for any name, newlines included.
- Thunar replaces ``%f`` with the path quoted by ``g_shell_quote`` and runs the line with
  ``/bin/sh -c``, so the rest of the line is shell-quoted here.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from core.integrate.entries import MARKER, Entry, FileEntry
from core.integrate.thunar import ThunarAction

MENU_LABEL = "Ask Kenning about this folder"
ICON = "kenning"
DESKTOP_FILE = "kenning-ask-folder.desktop"
NAUTILUS_SCRIPT = MENU_LABEL
DOLPHIN_FILE = "kenning-ask-folder.desktop"
THUNAR_ID = "kenning-ask-folder"

# Which file managers are looked for, by the programs on PATH and the folders they create.
FILE_MANAGERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "nautilus-script": (("nautilus",), ("data:nautilus",)),
    "dolphin-service-menu": (("dolphin", "konqueror"), ("config:dolphinrc",)),
    "thunar-action": (("thunar", "Thunar"), ("config:Thunar",)),
}


def data_home(home: Path, env: Mapping[str, str]) -> Path:
    return _xdg(env.get("XDG_DATA_HOME"), home / ".local" / "share")


def config_home(home: Path, env: Mapping[str, str]) -> Path:
    return _xdg(env.get("XDG_CONFIG_HOME"), home / ".config")


def _xdg(value: str | None, default: Path) -> Path:
    # The spec says a relative value is invalid and must be ignored.
    return Path(value) if value and Path(value).is_absolute() else default


def entries(
    home: Path,
    command: Sequence[str],
    env: Mapping[str, str],
    which: Callable[[str], str | None],
    everything: bool,
) -> tuple[list[Entry], list[dict[str, str]]]:
    """The entries to install, and the file managers skipped because they were not found.

    The .desktop action is always written (every desktop reads it); the others only for a
    file manager that is installed or has been used, unless ``everything`` is set.
    """
    data, config = data_home(home, env), config_home(home, env)
    candidates: dict[str, Entry] = {
        "desktop-entry": desktop_entry(data / "applications" / DESKTOP_FILE, command),
        "nautilus-script": nautilus_script(data / "nautilus" / "scripts" / NAUTILUS_SCRIPT,
                                           command),
        "dolphin-service-menu": dolphin_service_menu(
            data / "kio" / "servicemenus" / DOLPHIN_FILE, command),
        "thunar-action": ThunarAction(config / "Thunar" / "uca.xml", THUNAR_ID, MENU_LABEL,
                                      thunar_command(command), ICON),
    }
    chosen: list[Entry] = []
    skipped: list[dict[str, str]] = []
    for kind, entry in candidates.items():
        if everything or kind not in FILE_MANAGERS or _present(kind, data, config, which):
            chosen.append(entry)
        else:
            programs = ", ".join(FILE_MANAGERS[kind][0])
            skipped.append({"kind": kind, "reason": f"not found ({programs}); use --all"})
    return chosen, skipped


def all_entries(home: Path, env: Mapping[str, str]) -> list[Entry]:
    """Every entry install could have written, for uninstall (the command does not matter)."""
    chosen, _ = entries(home, ["kenning"], env, lambda _: None, everything=True)
    return chosen


def _present(kind: str, data: Path, config: Path,
             which: Callable[[str], str | None]) -> bool:
    programs, folders = FILE_MANAGERS[kind]
    if any(which(program) for program in programs):
        return True
    for folder in folders:
        base, name = folder.split(":")
        if ((data if base == "data" else config) / name).exists():
            return True
    return False


# --- Desktop Entry Exec quoting ------------------------------------------------------------


def exec_argument(argument: str) -> str:
    """One argument of an ``Exec`` key, quoted per the Desktop Entry spec.

    Inside double quotes, ``"`` `` ` `` ``$`` and ``\\`` take a backslash; a literal ``%`` is
    ``%%`` anywhere in the line. The string-level escaping of the whole value comes after.
    """
    quoted = '"' + re.sub(r'(["`$\\])', r"\\\1", argument) + '"'
    return quoted.replace("%", "%%")


def exec_value(command: Sequence[str], *arguments: str) -> str:
    """The full ``Exec=`` value: the quoted command, then ``arguments`` (field codes) as is."""
    parts = [exec_argument(part) for part in command]
    if "%" in command[0]:
        # GLib checks that the program exists before it turns %% back into %, and so
        # refuses the whole entry; `env` takes the program as an argument instead.
        parts.insert(0, "env")
    return escape_string_value(" ".join([*parts, *arguments]))


def escape_string_value(value: str) -> str:
    """The spec's escapes for values of type string (applied before the quoting rules)."""
    return (value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
            .replace("\r", "\\r"))


def desktop_entry(path: Path, command: Sequence[str]) -> FileEntry:
    run = exec_value(command, "ask-folder", "%f")
    # NoDisplay keeps it out of the application menu (Kenning has its own entry there) while
    # file managers still offer it for folders through MimeType and the action.
    content = f"""[Desktop Entry]
Type=Application
Name={MENU_LABEL}
Comment=Search and ask about the files in this folder
Icon={ICON}
Exec={run}
MimeType=inode/directory;
NoDisplay=true
Terminal=false
Actions=ask-folder;
{MARKER}=true

[Desktop Action ask-folder]
Name={MENU_LABEL}
Icon={ICON}
Exec={run}
"""
    return FileEntry("desktop-entry", path, content)


def dolphin_service_menu(path: Path, command: Sequence[str]) -> FileEntry:
    # KF6 only loads service menus that are executable; KF5 reads X-KDE-ServiceTypes.
    content = f"""[Desktop Entry]
Type=Service
MimeType=inode/directory;
X-KDE-ServiceTypes=KonqPopupMenu/Plugin
Actions=askKenning;
X-KDE-Priority=TopLevel
{MARKER}=true

[Desktop Action askKenning]
Name={MENU_LABEL}
Icon={ICON}
Exec={exec_value(command, "ask-folder", "%f")}
"""
    return FileEntry("dolphin-service-menu", path, content, executable=True)


def nautilus_script(path: Path, command: Sequence[str]) -> FileEntry:
    run = " ".join(shlex.quote(part) for part in command)
    content = f"""#!/bin/sh
# {MARKER}: added by `kenning integrate install`; `kenning integrate uninstall` removes it.
# Nautilus runs this in the folder it shows and passes the selection as arguments relative to
# it. "$@" is exact for any name; NAUTILUS_SCRIPT_SELECTED_FILE_PATHS is newline-separated
# and so cannot carry a name that contains a newline.
if [ "$#" -gt 0 ]; then
    target=$1
else
    # Right-click on the background: the folder shown, which is the working directory when
    # it is local. A remote location (sftp:, smb:...) cannot be indexed.
    case ${{NAUTILUS_SCRIPT_CURRENT_URI-file://}} in
        file://*) target=$PWD ;;
        *) exit 0 ;;
    esac
fi
case $target in
    /*) ;;
    *) target=$PWD/$target ;;
esac
# A selected file stands for the folder that holds it.
[ -d "$target" ] || target=${{target%/*}}
exec {run} ask-folder "$target"
"""
    return FileEntry("nautilus-script", path, content, executable=True)


def thunar_command(command: Sequence[str]) -> str:
    """Thunar runs this with ``sh -c`` after putting the ``g_shell_quote``-d path in for
    ``%f``; ``%%`` is its literal percent."""
    return (" ".join(shlex.quote(part) for part in command).replace("%", "%%")
            + " ask-folder %f")
