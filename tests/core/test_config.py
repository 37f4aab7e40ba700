"""settings.json values of the wrong kind are named and replaced by their defaults; nothing
else in the file is lost."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from core.config import Settings


def test_values_of_the_wrong_kind_are_named_and_defaulted(tmp_path: Path, caplog) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({
        "threads": "4", "max_file_mb": "50", "exclude_patterns": "*.pdf",
        "use_gitignore": 1, "chunk_tokens": -5, "model_path": "/m.gguf", "late_chunking": True,
    }), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="core.config"):
        settings = Settings.load(path)
    defaults = Settings()
    assert settings.threads == defaults.threads
    assert settings.max_file_mb == defaults.max_file_mb
    assert settings.exclude_patterns == []
    assert settings.use_gitignore is True and settings.chunk_tokens == defaults.chunk_tokens
    # The good values stay.
    assert settings.model_path == "/m.gguf" and settings.late_chunking is True
    for key in ("threads", "max_file_mb", "exclude_patterns", "use_gitignore", "chunk_tokens"):
        assert f'"{key}"' in caplog.text


def test_good_values_load_without_a_word(tmp_path: Path, caplog) -> None:
    path = tmp_path / "settings.json"
    Settings(threads=3, exclude_patterns=["*.tmp"]).save(path)
    with caplog.at_level(logging.WARNING, logger="core.config"):
        settings = Settings.load(path)
    assert settings.threads == 3 and settings.exclude_patterns == ["*.tmp"]
    assert caplog.text == ""
