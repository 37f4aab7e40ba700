"""Windows: Explorer entries for folders and folder backgrounds, in the user's own registry.

``HKCU\\Software\\Classes`` needs no administrator rights and overrides nothing system-wide.
Explorer substitutes ``%1`` (the folder right-clicked) and ``%V`` (the folder shown, for a
click on the background) inside the double quotes written here, so the path arrives as one
argument; Windows paths cannot contain ``"``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from core.integrate.entries import MARKER, Outcome

ROOT = "HKEY_CURRENT_USER"
CLASSES = r"Software\Classes"
VERB = "Kenning"
MENU_LABEL = "Ask Kenning about this folder"


@dataclass(frozen=True)
class RegistryValue:
    key: str  # below HKEY_CURRENT_USER
    name: str  # "" is the key's default value
    value: str


@dataclass(frozen=True)
class RegistryEntry:
    """One verb key (and its ``command`` subkey) that we own outright."""

    kind: str
    key: str
    values: tuple[RegistryValue, ...]

    @property
    def location(self) -> str:
        return f"{ROOT}\\{self.key}"

    def preview(self) -> str:
        return reg_export([self])

    def install(self, dry_run: bool) -> Outcome:
        if dry_run:
            return Outcome(self.kind, self.location, "would-write")
        _delete_tree(self.key)  # replace a previous version whole
        _write_values(self.values)
        return Outcome(self.kind, self.location, "written")

    def uninstall(self, dry_run: bool) -> Outcome:
        if not _key_exists(self.key):
            return Outcome(self.kind, self.location, "absent")
        if not dry_run:
            _delete_tree(self.key)
        return Outcome(self.kind, self.location, "would-remove" if dry_run else "removed")


def command_line(command: Sequence[str], placeholder: str) -> str:
    parts = [f'"{part}"' for part in command]
    return " ".join([*parts, "ask-folder", f'"{placeholder}"'])


def entries(command: Sequence[str]) -> list[RegistryEntry]:
    icon = f'"{command[0]}",0'
    made = []
    for kind, cls, placeholder in (("explorer-folder", "Directory", "%1"),
                                   ("explorer-background", r"Directory\Background", "%V")):
        key = f"{CLASSES}\\{cls}\\shell\\{VERB}"
        made.append(RegistryEntry(kind, key, (
            RegistryValue(key, "MUIVerb", MENU_LABEL),
            RegistryValue(key, "Icon", icon),
            RegistryValue(key, MARKER, "1"),
            RegistryValue(f"{key}\\command", "", command_line(command, placeholder)),
        )))
    return made


def reg_export(registry_entries: Sequence[RegistryEntry], remove: bool = False) -> str:
    """The same entries as a ``.reg`` file (what regedit would import)."""
    lines = ["Windows Registry Editor Version 5.00", ""]
    for entry in registry_entries:
        if remove:
            lines += [f"[-{ROOT}\\{entry.key}]", ""]
            continue
        current = None
        for value in entry.values:
            if value.key != current:
                if current is not None:
                    lines.append("")
                lines.append(f"[{ROOT}\\{value.key}]")
                current = value.key
            name = "@" if not value.name else f'"{_reg_escape(value.name)}"'
            lines.append(f'{name}="{_reg_escape(value.value)}"')
        lines.append("")
    return "\r\n".join(lines)


def _reg_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


# --- the registry itself, Windows only ----------------------------------------------------


def _write_values(values: Sequence[RegistryValue]) -> None:
    if sys.platform == "win32":
        import winreg

        for value in values:
            with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, value.key, 0,
                                    winreg.KEY_SET_VALUE) as handle:
                winreg.SetValueEx(handle, value.name or None, 0, winreg.REG_SZ, value.value)
    else:
        raise OSError("the Windows registry is only available on Windows")


def _key_exists(key: str) -> bool:
    if sys.platform == "win32":
        import winreg

        try:
            winreg.OpenKey(winreg.HKEY_CURRENT_USER, key).Close()
        except FileNotFoundError:
            return False
        return True
    return False


def _delete_tree(key: str) -> None:
    if sys.platform == "win32":
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key) as handle:
                children = []
                index = 0
                while True:
                    try:
                        children.append(winreg.EnumKey(handle, index))
                    except OSError:
                        break
                    index += 1
        except FileNotFoundError:
            return
        for child in children:  # winreg.DeleteKey refuses a key that still has subkeys
            _delete_tree(f"{key}\\{child}")
        winreg.DeleteKey(winreg.HKEY_CURRENT_USER, key)


#: The per-user list of programs Windows starts at sign-in.
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


@dataclass(frozen=True)
class RunValue:
    """One value under the user's Run key (we own the value, never the key)."""

    kind: str
    name: str
    command: str

    @property
    def location(self) -> str:
        return f"{ROOT}\\{RUN_KEY}\\{self.name}"

    def preview(self) -> str:
        return reg_export([RegistryEntry(self.kind, RUN_KEY,
                                         (RegistryValue(RUN_KEY, self.name, self.command),))])

    def install(self, dry_run: bool) -> Outcome:
        if dry_run:
            return Outcome(self.kind, self.location, "would-write")
        _write_values([RegistryValue(RUN_KEY, self.name, self.command)])
        return Outcome(self.kind, self.location, "written")

    def uninstall(self, dry_run: bool) -> Outcome:
        if _read_value(RUN_KEY, self.name) is None:
            return Outcome(self.kind, self.location, "absent")
        if not dry_run:
            _delete_value(RUN_KEY, self.name)
        return Outcome(self.kind, self.location, "would-remove" if dry_run else "removed")


def _read_value(key: str, name: str) -> str | None:
    if sys.platform == "win32":
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key) as handle:
                return str(winreg.QueryValueEx(handle, name)[0])
        except FileNotFoundError:
            return None
    return None


def _delete_value(key: str, name: str) -> None:
    if sys.platform == "win32":
        import winreg

        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key, 0, winreg.KEY_SET_VALUE) as handle:
            winreg.DeleteValue(handle, name)
