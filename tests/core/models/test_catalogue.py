"""The shipped model catalogue: every entry can be downloaded and checked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from core.models.catalogue import CatalogueError, load_catalogue
from core.models.profiles import is_grit_style

PINNED = re.compile(r"^https://huggingface\.co/[\w.-]+/[\w.-]+/resolve/[0-9a-f]{40}/(?P<file>[^/]+)$")


def test_every_shipped_entry_is_verifiable_and_pinned_to_a_revision() -> None:
    entries = load_catalogue()
    assert [e.name for e in entries if e.recommended] == ["gritlm-7b-q4"]
    for entry in entries:
        assert entry.verifiable, entry.name
        match = PINNED.match(entry.url)
        # a branch name could move to another file than the one whose sha256 is recorded
        assert match, entry.url
        assert match["file"] == entry.file
        assert entry.shown_size and entry.shown_size < entry.ram_needed_bytes


def test_the_recommended_model_is_taken_for_grit_by_its_file_name() -> None:
    recommended = next(e for e in load_catalogue() if e.recommended)
    assert recommended.profile == "grit"
    assert is_grit_style(False, [recommended.file])


def test_a_damaged_entry_is_named(tmp_path: Path) -> None:
    entry = load_catalogue()[0].to_json()
    del entry["verifiable"]
    entry["sha256"] = "ABC"
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"version": 1, "models": [entry]}))
    with pytest.raises(CatalogueError, match=entry["name"]):
        load_catalogue(path)
