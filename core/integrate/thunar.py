"""One Thunar custom action inside the user's ``uca.xml``, merged without disturbing the rest.

Thunar keeps every custom action in a single file, so ours is one ``<action>`` element found
by its ``<unique-id>``; the user's other actions, comments and order are kept as they are.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from core.integrate.entries import MARKER, Outcome


@dataclass(frozen=True)
class ThunarAction:
    path: Path
    unique_id: str
    name: str
    command: str
    icon: str
    kind: str = "thunar-action"

    @property
    def location(self) -> str:
        return str(self.path)

    def element(self) -> ET.Element:
        # Only elements every Thunar knows: older ones reject the whole file on an unknown
        # element (Thunar 4.16 has no <submenu>), which would hide the user's own actions too.
        action = ET.Element("action")
        for tag, text in (("icon", self.icon), ("name", self.name),
                          ("unique-id", self.unique_id), ("command", self.command),
                          ("description", f"Opens Kenning on this folder ({MARKER})"),
                          ("patterns", "*")):
            ET.SubElement(action, tag).text = text
        ET.SubElement(action, "directories")
        return action

    def preview(self) -> str:
        element = self.element()
        ET.indent(element, space="\t")
        return ET.tostring(element, encoding="unicode")

    def install(self, dry_run: bool) -> Outcome:
        try:
            tree = self._load()
        except (ET.ParseError, OSError) as error:
            return self._unreadable(error)
        if dry_run:
            return Outcome(self.kind, self.location, "would-write")
        root = tree.getroot()
        ours = self._find(root)
        new = self.element()
        ET.indent(new, space="\t", level=1)
        if ours is not None:
            new.tail = ours.tail
            root[list(root).index(ours)] = new
        else:
            _append(root, new)
        self._save(tree)
        return Outcome(self.kind, self.location, "written")

    def uninstall(self, dry_run: bool) -> Outcome:
        if not self.path.is_file():
            return Outcome(self.kind, self.location, "absent")
        try:
            tree = self._load()
        except (ET.ParseError, OSError) as error:
            return self._unreadable(error)
        root = tree.getroot()
        ours = self._find(root)
        if ours is None:
            return Outcome(self.kind, self.location, "absent")
        if dry_run:
            return Outcome(self.kind, self.location, "would-remove")
        position = list(root).index(ours)
        if position > 0:  # the previous element takes over our line break
            root[position - 1].tail = ours.tail
        root.remove(ours)
        if len(root) == 0:
            # Nothing but the action we added: the file holds nothing of the user's.
            self.path.unlink()
        else:
            self._save(tree)
        return Outcome(self.kind, self.location, "removed")

    def _load(self) -> ET.ElementTree[ET.Element]:
        if not self.path.is_file():
            root = ET.Element("actions")
            root.text = "\n"
            return ET.ElementTree(root)
        parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
        tree = ET.parse(self.path, parser)
        if tree.getroot().tag != "actions":
            raise ET.ParseError(f"the top element is <{tree.getroot().tag}>, not <actions>")
        return tree

    def _find(self, root: ET.Element) -> ET.Element | None:
        for action in root.findall("action"):
            if (action.findtext("unique-id") or "").strip() == self.unique_id:
                return action
        return None

    def _save(self, tree: ET.ElementTree[ET.Element]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.kenning-tmp")
        tree.write(temporary, encoding="UTF-8", xml_declaration=True)
        os.replace(temporary, self.path)

    def _unreadable(self, error: Exception) -> Outcome:
        return Outcome(self.kind, self.location, "error",
                       f"could not read it ({error}); it was left unchanged. Fix or move the "
                       "file and run the command again.")


def _append(root: ET.Element, action: ET.Element) -> None:
    """Append with the file's usual indentation so the result still reads well."""
    if len(root):
        last = root[-1]
        action.tail = last.tail
        last.tail = "\n\t"
    else:
        root.text = "\n\t"
        action.tail = "\n"
    root.append(action)
