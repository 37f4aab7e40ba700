"""Settings and where Kenning keeps its files.

The database and models live in the platform's user data dir, settings in its config dir
(platformdirs). ``KENNING_HOME`` (or ``--home`` on the command line) puts both under one
folder instead, for tests, portable installs and power users.

>>> paths = AppPaths.resolve(home=Path("/tmp/k"))
>>> paths.database
PosixPath('/tmp/k/data/kenning.db')
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

import platformdirs

log = logging.getLogger(__name__)

APP_NAME = "Kenning"
HOME_ENV = "KENNING_HOME"


@dataclass(frozen=True)
class AppPaths:
    data_dir: Path
    config_dir: Path

    @classmethod
    def resolve(cls, home: Path | None = None) -> AppPaths:
        """Pick the folders: an explicit ``home``, then $KENNING_HOME, then the platform's."""
        if home is None and os.environ.get(HOME_ENV):
            home = Path(os.environ[HOME_ENV])
        if home is not None:
            home = home.expanduser().resolve()
            return cls(data_dir=home / "data", config_dir=home / "config")
        return cls(
            data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
            config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        )

    @property
    def home(self) -> Path | None:
        """The folder named by ``--home`` (or $KENNING_HOME); None for the platform's folders."""
        parent = self.data_dir.parent
        if self.data_dir.name == "data" and self.config_dir == parent / "config":
            return parent
        return None

    @property
    def database(self) -> Path:
        return self.data_dir / "kenning.db"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def model_cache_dir(self) -> Path:
        """What loading a model works out once and keeps (e.g. its embedding centre)."""
        return self.models_dir / "cache"

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    def ensure(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_dir.mkdir(parents=True, exist_ok=True)


@dataclass
class Settings:
    """What a user can change. Unknown keys in the file are ignored; missing ones get defaults."""

    #: A GGUF file to use instead of the bundled default model ("" = bundled default).
    model_path: str = ""
    #: A separate embedding GGUF (a BERT-family sentence encoder such as all-MiniLM-L6-v2) for
    #: search, while ``model_path`` (or the bundled model) keeps writing answers ("" = none:
    #: one model does both).
    embedding_model_path: str = ""
    #: CPU threads for the model, and files read side by side (0 = all cores).
    threads: int = 0
    #: Files larger than this are recorded as skipped rather than read.
    max_file_mb: int = 200
    #: Honour .gitignore files found inside indexed folders.
    use_gitignore: bool = True
    #: Extra exclude patterns in .gitignore syntax, applied to every folder.
    exclude_patterns: list[str] = field(default_factory=list)
    #: Target chunk size in model tokens.
    chunk_tokens: int = 256
    #: Late chunking: embed a file's passages together, in order, so each passage's vector
    #: also reads the passages before it (up to the model's embed window). Off by default:
    #: measured within noise of passages embedded alone (docs/benchmarks.md).
    late_chunking: bool = False
    #: How Ask answers: "quote" (the sentences of your files that answer, chosen by the model
    #: reading them), "write" (the model's own words, each sentence checked against the
    #: files), or "auto" (quote with a small model such as the bundled one, write otherwise).
    answer_mode: str = "auto"

    @classmethod
    def load(cls, path: Path) -> Settings:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError):
            # A damaged settings file must not stop the app; defaults are safe.
            return cls()
        if not isinstance(raw, dict):
            return cls()
        values = {}
        for f in fields(cls):
            if f.name not in raw:
                continue
            default = f.default if f.default_factory is MISSING else f.default_factory()
            if _fits(raw[f.name], default):
                values[f.name] = raw[f.name]
            else:
                log.warning(
                    "%s: \"%s\" should be %s, not %s; using the default (%s) until it is "
                    "corrected.", path, f.name, _KIND_NAMES[type(default)],
                    json.dumps(raw[f.name]), json.dumps(default))
        return cls(**values)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        os.replace(tmp, path)


_KIND_NAMES = {str: "text", int: "a whole number of 0 or more", bool: "true or false",
               list: "a list of texts"}


def _fits(value: object, default: object) -> bool:
    """Whether a value read from settings.json has the setting's kind: a string where text is
    expected, never a string where a number or a list is (``"*.pdf"`` is not a list)."""
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if isinstance(default, list):
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    return isinstance(value, type(default))
