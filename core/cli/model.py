"""``kenning model list | use PATH|NAME | use-embedder PATH|NAME|--none | download NAME``.

    kenning model list --json
    kenning model use ~/models/GritLM-7B-Q4_K_M.gguf
    kenning model use-embedder ~/models/all-minilm-l6-v2.gguf  # it searches, the model answers
    kenning model use-embedder --none                          # one model for both again
    kenning model download gritlm-7b-q4      # Ctrl+C stops; run it again to resume

Only ``download`` touches the network, and only for the file the user named.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.cancel import Cancelled, CancelToken
from core.cli import exit_codes
from core.config import AppPaths, Settings

# The model modules are imported where used: every command builds this parser, and most
# never touch the catalogue, the header check (numpy) or the downloader.
if TYPE_CHECKING:
    from core.models.catalogue import CatalogueEntry
    from core.models.check import ModelReport
    from core.models.download import DownloadProgress


def add_model_parser(sub: Any) -> None:
    p = sub.add_parser("model", help="list, choose or download the model")
    actions = p.add_subparsers(dest="model_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the catalogue, what is downloaded and in use")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    use = actions.add_parser("use", help="check a GGUF file (or catalogue name) and use it")
    use.add_argument("model", help="a .gguf path or a downloaded catalogue name")
    use.add_argument("--json", action="store_true", help="print the file's report as JSON")
    embedder = actions.add_parser(
        "use-embedder", help="search with a separate embedding GGUF; the model keeps answering")
    choice = embedder.add_mutually_exclusive_group(required=True)
    choice.add_argument("model", nargs="?",
                        help="a .gguf path (e.g. all-MiniLM-L6-v2) or a downloaded catalogue name")
    choice.add_argument("--none", action="store_true",
                        help="stop using a separate embedder: the model does both again")
    embedder.add_argument("--json", action="store_true", help="print the result as JSON")
    fetch = actions.add_parser("download", help="download a catalogue model (resumable)")
    fetch.add_argument("name", help="a name from `kenning model list`")


def run_model_command(args: argparse.Namespace, paths: AppPaths, settings: Settings) -> int:
    handler = {"list": _list, "use": _use, "use-embedder": _use_embedder,
               "download": _download}[args.model_action]
    return handler(args, paths, settings)


def current_model_path(paths: AppPaths, settings: Settings) -> Path:
    if settings.model_path:
        return Path(settings.model_path).expanduser()
    from core.models.default_model import MODEL_FILE

    return paths.models_dir / MODEL_FILE


def _list(args: argparse.Namespace, paths: AppPaths, settings: Settings) -> int:
    from core.models.catalogue import load_catalogue
    from core.models.download import part_path
    from core.models.embed_head import bundled_head_tag
    from core.models.profiles import GENERIC, embed_recipe

    in_use = current_model_path(paths, settings).resolve()
    rows = []
    entries = load_catalogue()
    for entry in entries:
        target = (paths.models_dir / entry.file).resolve()
        rows.append(entry.to_json() | {
            "downloaded": target.is_file(),
            "in_use": target == in_use,
            "partial_bytes": _size(part_path(target)),
            "embed_recipe": embed_recipe(entry.profile)[0],
        })
    embedder = current_embedder_path(settings)
    # Search embeds with the separate embedder when there is one, else with the model.
    searching = embedder or (None if not settings.model_path else in_use)
    profile = _profile_of(searching) if searching else (GENERIC.name, bundled_head_tag())
    recipe = embed_recipe(*profile)[0] if profile else None
    if args.json:
        print(json.dumps({"in_use": str(in_use), "bundled": not settings.model_path,
                          "embedder": str(embedder) if embedder else None,
                          "embed_recipe": recipe, "models": rows}, indent=2))
        return exit_codes.OK
    print(f"In use: {in_use}{' (bundled default)' if not settings.model_path else ''}")
    if embedder:
        print(f"Search uses a separate embedder: {embedder}")
    if profile:
        print(f"Search by meaning: {embed_recipe(*profile)[1]}.")
    for entry, row in zip(entries, rows, strict=True):
        mark = "*" if row["in_use"] else ("✓" if row["downloaded"] else " ")
        size = f"{entry.shown_size / 1e9:.2f} GB" if entry.shown_size else "size unknown"
        note = "" if row["verifiable"] else "  (no checked sha256: download disabled)"
        print(f" {mark} {row['name']:28} {row['profile']:8} {size:>14}  {row['description']}"
              f"{note}")
    return exit_codes.OK


def _profile_of(path: Path) -> tuple[str, str] | None:
    """The profile the GGUF at ``path`` gets and its trained head's tag ("" for none), read
    from its header; None when unreadable."""
    from core.models.check import UnusableModel, check_model

    try:
        report = check_model(path)
    except (UnusableModel, OSError):
        return None
    return report.profile, report.embed_head


def current_embedder_path(settings: Settings) -> Path | None:
    """The separate embedding model, or None when one model does both."""
    return Path(settings.embedding_model_path).expanduser() if settings.embedding_model_path \
        else None


def _chosen_file(paths: AppPaths, name: str) -> Path | None:
    """The file a path or catalogue name means; None (after saying why) when not downloaded."""
    from core.models.catalogue import find_entry, load_catalogue

    entry = find_entry(load_catalogue(), name)
    path = paths.models_dir / entry.file if entry else Path(name).expanduser()
    if entry and not path.is_file():
        print(f"kenning: {entry.name} is not downloaded yet. Run "
              f"`kenning model download {entry.name}` first.", file=sys.stderr)
        return None
    return path


def _checked_file(paths: AppPaths, name: str, kept: str) -> ModelReport | None:
    """The report on the file ``name`` means; None (after saying why, and that the current
    ``kept`` stays) when it is not downloaded or cannot be used."""
    from core.models.check import UnusableModel, check_model

    path = _chosen_file(paths, name)
    if path is None:
        return None
    try:
        return check_model(path)
    except UnusableModel as error:
        print(f"kenning: {error} The current {kept} is kept.", file=sys.stderr)
        return None


def _use(args: argparse.Namespace, paths: AppPaths, settings: Settings) -> int:
    report = _checked_file(paths, args.model, "model")
    if report is None:
        return exit_codes.ERROR
    # Saved from the file, not from ``settings``: one-run flags (--threads, --embedding-model)
    # must not become permanent through this command.
    saved = Settings.load(paths.settings_file)
    saved.model_path = report.path
    saved.save(paths.settings_file)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(f"Now using {report.name} ({report.architecture}, {report.quantization}, "
              f"{report.size_bytes / 1e9:.2f} GB, context {report.context_length}, "
              f"profile {report.profile}). Files are re-embedded for it in the background "
              "the next time Kenning indexes; keyword search works meanwhile.")
    return exit_codes.OK


def _use_embedder(args: argparse.Namespace, paths: AppPaths, settings: Settings) -> int:
    # Saved from the file, not from ``settings``: a one-run --model or --embedding-model flag
    # must not become permanent through this command.
    saved = Settings.load(paths.settings_file)
    if args.none:
        saved.embedding_model_path = ""
        saved.save(paths.settings_file)
        if args.json:
            print(json.dumps({"embedder": None}, indent=2))
        else:
            print("Search and answers use one model again. Files it has not embedded yet are "
                  "embedded in the background the next time Kenning indexes.")
        return exit_codes.OK
    report = _checked_file(paths, args.model, "embedder")
    if report is None:
        return exit_codes.ERROR
    saved.embedding_model_path = report.path
    saved.save(paths.settings_file)
    if args.json:
        print(json.dumps({"embedder": report.to_json()}, indent=2))
    else:
        note = ("" if report.sentence_encoder else
                f" Note: it is a '{report.profile}' model, not a sentence encoder; a BERT-family "
                "embedder such as all-MiniLM-L6-v2 is what this setting is for.")
        print(f"Search now uses {report.name} ({report.architecture}, {report.quantization}, "
              f"{report.size_bytes / 1e6:.0f} MB, profile {report.profile}); answers still "
              f"come from {current_model_path(paths, saved).name}. Files are re-embedded for "
              "it in the background the next time Kenning indexes; keyword search works "
              f"meanwhile.{note}")
    return exit_codes.OK


def _download(args: argparse.Namespace, paths: AppPaths, settings: Settings) -> int:
    from core.models.catalogue import find_entry, load_catalogue
    from core.models.download import DownloadError, download

    entry = find_entry(load_catalogue(), args.name)
    if entry is None:
        print(f"kenning: no model called {args.name!r}; see `kenning model list`.",
              file=sys.stderr)
        return exit_codes.USAGE
    target = paths.models_dir / entry.file
    if target.is_file():
        print(f"{entry.name} is already downloaded: {target}")
        return exit_codes.OK
    bar = _ProgressBar(entry)
    try:
        download(entry.url, target, entry.sha256 or "", entry.size_bytes,
                 progress=bar, cancel=CancelToken(), approx_size=entry.approx_size_bytes)
    except (KeyboardInterrupt, Cancelled):
        bar.close()
        print("\nStopped. Run the same command to resume the download.", file=sys.stderr)
        return exit_codes.INTERRUPTED
    except DownloadError as error:
        bar.close()
        print(f"kenning: {error}", file=sys.stderr)
        return exit_codes.ERROR
    bar.close()
    print(f"Downloaded and verified {target}. Use it with `kenning model use {entry.name}`.")
    return exit_codes.OK


class _ProgressBar:
    def __init__(self, entry: CatalogueEntry) -> None:
        self.entry = entry
        self.bar: Any = None

    def __call__(self, progress: DownloadProgress) -> None:
        if not sys.stderr.isatty():
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=progress.total or None, initial=0, unit="B",
                            unit_scale=True, desc=self.entry.name, file=sys.stderr)
        self.bar.update(progress.done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0
