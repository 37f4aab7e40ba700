"""``kenning``: index, search and inspect from a terminal, without a window.

    kenning index ~/Documents          # index (and remember) a folder, both phases
    kenning search '"notice period" ext:pdf'
    kenning status --json

The ``--json`` outputs are a public interface, documented in docs/cli.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from core.cancel import CancelToken
from core.cli import exit_codes
from core.cli.ask_folder import (
    UnusablePath,
    WindowOpener,
    add_ask_folder_parser,
    resolved,
    run_window_command,
)
from core.cli.integrate import add_integrate_parser, run_integrate_command
from core.cli.model import add_model_parser, run_model_command
from core.cli.output import (
    ProgressPrinter,
    answer_json,
    one_line,
    print_answer,
    print_hits,
    status_json,
    terminal_safe,
)
from core.cli.service import (
    STARTS_OR_USES,
    add_service_parser,
    describe_service,
    run_remote,
    run_service_command,
    service_client,
    service_status,
    service_wanted,
)
from core.config import AppPaths, Settings
from core.service.protocol import connect

if TYPE_CHECKING:
    from core.index.indexer import Indexer
    from core.service.server import WindowPort
    from core.services import ModelLoader, Services
    from core.store.database import Store


def _version() -> str:
    import importlib.metadata  # here: only --version asks, and it costs a tenth of the start

    try:
        return importlib.metadata.version("kenning")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


class _PrintVersion(argparse.Action):
    """``--version``, its number looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(f"kenning {_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kenning",
        description="Search your own files by meaning, with sources you can check.",
    )
    parser.add_argument(
        "--home",
        type=Path,
        help="keep the index and settings in this folder "
        "(default: the platform's user folders; also $KENNING_HOME)",
    )
    parser.add_argument("--model", help="a GGUF model file to use instead of the bundled one")
    parser.add_argument("--embedding-model", metavar="PATH",
                        help="a separate embedding GGUF for search (e.g. all-MiniLM-L6-v2); "
                        "the model still writes answers")
    parser.add_argument("--threads", type=int,
                        help="CPU threads for the model and files read at once (default: all)")
    parser.add_argument("--no-service", action="store_true",
                        help="run this command on its own, without the background service "
                        "(also $KENNING_NO_SERVICE)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    parser.add_argument("--version", action=_PrintVersion, help="print Kenning's version")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("index", help="add folders and index them until fully searchable")
    p.add_argument("paths", nargs="*", type=Path, help="folders to add (default: all known)")
    p.add_argument(
        "--no-embed",
        action="store_true",
        help="stop after keyword indexing (meaning-based search comes later)",
    )
    p.add_argument("--wait", action="store_true",
                   help="with the background service: wait until embedding is done too")
    ocr = p.add_mutually_exclusive_group()
    ocr.add_argument("--ocr", dest="ocr", action="store_const", const=True,
                     help="read the scanned pages and pictures of text in the named folders "
                     "by OCR (Tesseract), from now on (a setting kept per folder; off by "
                     "default)")
    ocr.add_argument("--no-ocr", dest="ocr", action="store_const", const=False,
                     help="stop reading them by OCR in the named folders")

    p = sub.add_parser("search", help="search the index")
    p.add_argument("query", help='words, "exact phrase", -excluded, dir:, ext:, after:, before:')
    p.add_argument("-n", "--limit", type=int, default=10)
    p.add_argument("--in", dest="scope", type=Path, help="only this folder")
    p.add_argument("--mode", choices=("hybrid", "lexical", "semantic"), default="hybrid")
    p.add_argument("--json", action="store_true", help="machine-readable output (docs/cli.md)")

    p = sub.add_parser("ask", help="answer a question from your files, with sources")
    p.add_argument("question")
    p.add_argument("--in", dest="scope", type=Path, help="only this folder")
    p.add_argument("--json", action="store_true", help="machine-readable output (docs/cli.md)")

    p = sub.add_parser("status", help="files per state and per folder, and failures")
    p.add_argument("--json", action="store_true", help="machine-readable output (docs/cli.md)")

    p = sub.add_parser("retry", help="read the files that failed again")
    p.add_argument("--no-embed", action="store_true", help="stop after keyword indexing")

    p = sub.add_parser("forget", help="stop indexing a folder and remove it from the index")
    p.add_argument("paths", nargs="+", type=Path)

    add_model_parser(sub)
    add_integrate_parser(sub)
    add_ask_folder_parser(sub)
    add_service_parser(sub)
    return parser


def main(
    argv: Sequence[str] | None = None,
    model_loader: ModelLoader | None = None,
    open_window: WindowOpener | None = None,
    window: WindowPort | None = None,
    program: Sequence[str] | None = None,
) -> int:
    """Run one command. From the top layer (``app.launch``): ``open_window`` shows the window
    for ``kenning`` alone and ``kenning ask-folder``; ``window`` lets the background service
    show it; ``program`` is the command that runs Kenning (to start the service with)."""
    try:
        return _run(argv, model_loader, open_window, window, program)
    except BrokenPipeError:
        # The reader went away (``kenning search ... | head``): nothing more to say to it.
        # Python would complain when it flushes stdout at exit, so stdout goes nowhere now.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return exit_codes.OK
    except Exception as exc:
        known = _explained_cause(exc)
        if known is None:
            raise
        print(f"kenning: {_explain(known)}", file=sys.stderr)
        return exit_codes.USAGE if isinstance(known, UnusablePath) else exit_codes.ERROR


def _run(
    argv: Sequence[str] | None,
    model_loader: ModelLoader | None,
    open_window: WindowOpener | None,
    window: WindowPort | None,
    program: Sequence[str] | None,
) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    paths = AppPaths.resolve(args.home)
    unusable = _unusable_folder(paths)
    if unusable is not None:
        print(f"kenning: {unusable} is a file, not a folder, so Kenning cannot keep its index "
              "there. Name a folder with --home (or KENNING_HOME), or move that file away.",
              file=sys.stderr)
        return exit_codes.USAGE
    settings = Settings.load(paths.settings_file)
    if args.model:
        settings.model_path = str(Path(args.model).expanduser().resolve())
    if args.embedding_model:
        settings.embedding_model_path = str(Path(args.embedding_model).expanduser().resolve())
    if args.threads:
        settings.threads = args.threads
    unusable_request = _unusable_request(args)
    if unusable_request is not None:
        print(f"kenning: {unusable_request}", file=sys.stderr)
        return exit_codes.USAGE
    if args.command == "index" and args.ocr is not None:
        if not args.paths:
            print("kenning: name the folders OCR is for, e.g. `kenning index --ocr ~/Scans`.",
                  file=sys.stderr)
            return exit_codes.USAGE
        if args.ocr:
            _say_whether_ocr_can_run()
    # Handed to the service before anything heavy is imported: a search costs the service's
    # answer, not this process's start.
    if service_wanted(args, model_loader is not None) and args.command in STARTS_OR_USES:
        client = service_client(args, paths, program)
        if client is not None:
            return run_remote(args, client)
    from core.services import ModelUnavailable, Services, load_default_or_chosen_model
    from core.store.database import Store

    services = Services(paths, settings, model_loader or load_default_or_chosen_model)
    if args.command in (None, "ask-folder"):
        return run_window_command(args, services, open_window)
    if args.command == "model":  # needs no index and no loaded model
        return run_model_command(args, paths, settings)
    if args.command == "integrate":  # writes file-manager entries only
        return run_integrate_command(args)
    if args.command == "service":
        return run_service_command(args, services, window, program)
    store: Store | None = None
    try:
        if args.command == "status" and _service_running(paths):
            # The service owns the writer; a status is a reader's business.
            store = Store.open_reader(paths.database)
        else:
            store = services.open_store(read_only_ok=args.command in _READ_ONLY_COMMANDS)
        for notice in services.notices:
            print(notice, file=sys.stderr)
        handler = {
            "index": cmd_index,
            "search": cmd_search,
            "ask": cmd_ask,
            "status": cmd_status,
            "forget": cmd_forget,
            "retry": cmd_retry,
        }[args.command]
        try:
            return handler(args, services, store)
        except Exception as exc:
            from core.store.database import DAMAGE_ERRORS, cause_among

            damage = cause_among(exc, DAMAGE_ERRORS)
            if damage is None:
                raise
            # Damage the check at open did not look for (it is skipped after a clean close):
            # recovered as at open, and the command runs once more on the new index.
            store = services.start_again(str(damage), damaged=store)
            print(services.notices[-1], file=sys.stderr)
            return handler(args, services, store)
    except ModelUnavailable as exc:
        print(f"kenning: {exc}", file=sys.stderr)
        return exit_codes.ERROR
    except KeyboardInterrupt:
        print(
            "\nStopped. Work done so far is kept; run the same command to continue.",
            file=sys.stderr,
        )
        return exit_codes.INTERRUPTED
    finally:
        if store is not None:
            store.close()  # after a normal end, notes the file clean: the next open skips its check
        services.close()


def _service_running(paths: AppPaths) -> bool:
    client = connect(paths)
    if client is None:
        return False
    client.close()
    return True


# Commands that only read the index: they work from a read-only data folder too.
_READ_ONLY_COMMANDS = ("search", "ask", "status")


def _explained_cause(exc: BaseException) -> BaseException | None:
    """The failure the environment caused behind ``exc`` (said plainly, no traceback), or
    None for a defect."""
    # Imported here: the engine's modules load only for commands that need them.
    from core.services import DataFolderReadOnly
    from core.store.database import BUSY_ERRORS, DISK_FULL_ERRORS, NewerSchema, cause_among

    return cause_among(exc, (UnusablePath, DataFolderReadOnly, NewerSchema, *DISK_FULL_ERRORS,
                             *BUSY_ERRORS))


def _explain(exc: BaseException) -> str:
    """What went wrong, for failures the environment causes (no traceback for these)."""
    from core.store.database import BUSY_ERRORS, DISK_FULL_ERRORS

    if isinstance(exc, DISK_FULL_ERRORS):
        return ("the disk is full, so Kenning stopped. Everything indexed so far is kept; free "
                "some space, then run the same command again to continue.")
    if isinstance(exc, BUSY_ERRORS):
        return ("another Kenning kept the index busy for too long, so this command stopped "
                "(nothing was lost). Run it again when the other one is done.")
    return str(exc)


def _writer(args: argparse.Namespace,
            services: Services) -> contextlib.AbstractContextManager[None]:
    """The index's writer lock, waited for with a note when another command holds it."""
    from core.index.writer_lock import one_writer

    def waiting() -> None:
        service = connect(services.paths)
        if service is not None:  # it holds the lock for as long as it runs
            service.close()
            print("The background service is looking after this library; waiting for it to "
                  "stop (`kenning service stop`; Ctrl+C to stop waiting)...", file=sys.stderr)
            return
        print(f"Another Kenning is {'indexing' if args.command != 'forget' else 'changing'} "
              "this library; waiting for it to finish (Ctrl+C to stop)...", file=sys.stderr)

    return one_writer(services.paths.database, waiting)


def cmd_index(args: argparse.Namespace, services: Services, store: Store) -> int:
    from core.index.indexer import Indexer  # PyMuPDF and the extraction child: only to index
    from core.services import ModelUnavailable

    model = None
    if not args.no_embed:
        try:
            model = services.model
        except ModelUnavailable as exc:
            # Keyword indexing needs no model: the words are indexed now, the meaning later.
            print(f"note: indexing by words only: {exc} Once the model loads, `kenning "
                  "index` embeds what was indexed now.", file=sys.stderr)
    with _writer(args, services), Indexer(store, model, services.settings) as indexer:
        return _index(args, store, indexer)


def _unusable_request(args: argparse.Namespace) -> str | None:
    """What to say when a search or question cannot mean anything: it has no words (an empty
    argument, from a script whose variable was empty), or its ``--in`` names no folder (a
    typo would otherwise read as "nothing found"); None when it can."""
    if args.command == "search" and not args.query.strip():
        return 'type some words to search for, e.g. `kenning search "boiler service"`.'
    if args.command == "ask" and not args.question.strip():
        return 'type a question, e.g. `kenning ask "When is the boiler due a service?"`.'
    if args.command in ("search", "ask") and args.scope is not None:
        where = args.scope.expanduser()
        if where.exists():
            if not where.is_dir():
                return (f"{one_line(str(args.scope))} is a file; --in takes a folder to search "
                        "in (the one holding it, for example).")
        elif not where.is_symlink():  # a looping link gets its own message from ``resolved``
            return f"{one_line(str(args.scope))} does not exist; --in takes a folder to search in."
    return None


def _index(args: argparse.Namespace, store: Store, indexer: Indexer) -> int:
    for path in args.paths:
        try:
            indexer.add_folder(resolved(path), ocr=args.ocr)
        except NotADirectoryError as exc:
            print(f"kenning: {exc}", file=sys.stderr)
            return exit_codes.USAGE
    if not store.folders.all():
        print("No folders yet. Add one: kenning index ~/Documents", file=sys.stderr)
        return exit_codes.USAGE
    cancel = CancelToken()
    previous = signal.signal(signal.SIGINT, _first_interrupt_cancels(cancel))
    printer = ProgressPrinter(sys.stderr)
    try:
        report = indexer.scan(printer, cancel)
        printer.say(
            f"Found {report.new_or_changed} new or changed, {report.unchanged} "
            f"unchanged, {report.moved} moved, {report.deleted} removed."
        )
        indexer.extract_pending(printer, cancel)
        if not args.no_embed:
            indexer.embed_pending(printer, cancel)
    finally:
        signal.signal(signal.SIGINT, previous)
        printer.close()
    if cancel.cancelled:
        print(
            "Stopped. Work done so far is kept; run `kenning index` to continue.", file=sys.stderr
        )
        return exit_codes.INTERRUPTED
    counts = store.files.state_counts()
    print(
        f"Indexed: {counts['embedded']} searchable by meaning, {counts['extracted']} by "
        f"keywords only, {counts['failed']} failed, {counts['skipped']} skipped."
    )
    if counts["failed"]:
        print("See `kenning status` for what failed and why.")
    return exit_codes.OK


def _say_whether_ocr_can_run() -> None:
    """OCR asked for: when Tesseract is missing, say so and how to install it (indexing goes
    on; the scanned pages are counted until it is there)."""
    from core.extract.ocr import INSTALL_HELP, find_ocr_engine

    engine = find_ocr_engine()
    if not engine.available:
        print(f"note: OCR is on for these folders, but {engine.problem}, so their scanned "
              f"pages are counted, not read. {INSTALL_HELP}", file=sys.stderr)


def _unusable_folder(paths: AppPaths) -> Path | None:
    """The first of Kenning's folders (or a folder above them) that exists as a file."""
    for folder in (paths.data_dir, paths.config_dir):
        existing = next(c for c in (folder, *folder.parents) if c.exists())
        if not existing.is_dir():
            return existing
    return None


def _first_interrupt_cancels(cancel: CancelToken) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        if cancel.cancelled:
            raise KeyboardInterrupt
        cancel.cancel()
        print(
            "\nStopping after the current step (Ctrl+C again to stop at once)...", file=sys.stderr
        )

    return handler


def cmd_search(args: argparse.Namespace, services: Services, store: Store) -> int:
    from core.search.handover import HANDOVER_NOTE, PreviousVectorsModel
    from core.search.retrieval import search
    from core.services import ModelUnavailable

    query = args.query
    if args.scope is not None:
        query += f' dir:"{resolved(args.scope)}"'
    model = None
    warnings: list[str] = []
    if args.mode != "lexical":
        try:
            model = services.search_model(store)
            if isinstance(model, PreviousVectorsModel):
                warnings.append(HANDOVER_NOTE)
        except ModelUnavailable as exc:
            warnings.append(f"Keyword search only: {exc}")
    result = search(store, query, model, limit=args.limit, mode=args.mode)
    result.warnings[:0] = warnings
    if args.json:
        out = result.to_json()
        out["query"] = args.query
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        for warning in result.warnings:
            print(f"note: {warning}", file=sys.stderr)
        print_hits(result.hits, sys.stdout)
    return exit_codes.OK


def cmd_ask(args: argparse.Namespace, services: Services, store: Store) -> int:
    from core.answer.answerer import Answerer

    scope = str(resolved(args.scope)) if args.scope is not None else None
    answerer = Answerer(store, services.search_model(store),
                        mode=services.settings.answer_mode)
    streamed: list[str] = []
    stream = _printer(streamed) if answerer.streams and not args.json else None
    cancel = CancelToken()
    previous = signal.signal(signal.SIGINT, _first_interrupt_cancels(cancel))
    try:
        answer = answerer.ask(args.question, scope=scope, on_text=stream, cancel=cancel)
    finally:
        signal.signal(signal.SIGINT, previous)
    if args.json:
        data = answer_json(answer)
        data["interrupted"] = cancel.cancelled
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return exit_codes.INTERRUPTED if cancel.cancelled else exit_codes.OK
    if cancel.cancelled:
        print("\nStopped before the answer was checked; nothing above is a checked answer.",
              file=sys.stderr)
        return exit_codes.INTERRUPTED
    print_answer(answer, "".join(streamed), sys.stdout)
    return exit_codes.OK


def _printer(streamed: list[str]) -> Callable[[str], None]:
    def print_piece(piece: str) -> None:
        streamed.append(piece)
        sys.stdout.write(terminal_safe(piece))
        sys.stdout.flush()

    return print_piece


def cmd_status(args: argparse.Namespace, services: Services, store: Store) -> int:
    data = status_json(store, services)
    service = service_status(services.paths)
    data["service"] = service
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return exit_codes.OK
    print(describe_service(service))
    files = data["files"]
    assert isinstance(files, dict)
    print(f"Database: {data['database']}")
    print("Files: " + ", ".join(f"{n} {state}" for state, n in files.items()))
    folders = data["folders"]
    assert isinstance(folders, list)
    for folder in folders:
        counts = ", ".join(f"{n} {s}" for s, n in folder["files"].items() if n)
        print(one_line(f"  {folder['path']}: {counts}"))
    left_out = data["left_out"]
    notes = data["notes"]
    assert isinstance(left_out, list) and isinstance(notes, list)
    for title, lines in (("Not read:", left_out),
                         ("Read in part:", [f"{n['path']}: {n['note']}" for n in notes])):
        if lines:
            print(title)
            for line in lines:
                print(terminal_safe(f"  {line}"))
    scans, engine = data["scans"], data["ocr_engine"]
    assert isinstance(scans, list)
    if scans:
        print("Scanned pages:")
        for line in scans:
            print(terminal_safe(f"  {line}"))
    if isinstance(engine, dict) and engine["problem"]:
        print(f"OCR cannot run: {engine['problem']}. {engine['install_help']}")
    failures = data["failures"]
    assert isinstance(failures, list)
    if failures:
        print("Not indexed:")
        for f in failures:
            print(one_line(f"  {f['path']}: {f['state']}: {f['error']}"))
        total = data["failures_total"]
        assert isinstance(total, int)
        if total > len(failures):
            print(f"  ...and {total - len(failures):,} more (the first {len(failures):,} of "
                  f"{total:,} are listed, by path).")
    return exit_codes.OK


def cmd_retry(args: argparse.Namespace, services: Services, store: Store) -> int:
    """Read the files that failed again (after fixing them, or after an update)."""
    with _writer(args, services):
        count = store.files.retry_failed()
    if not count:
        print("Nothing to retry: no file failed.")
        return exit_codes.OK
    print(f"Trying {count:,} file{'s' if count != 1 else ''} again.")
    args.paths = []
    return cmd_index(args, services, store)


def cmd_forget(args: argparse.Namespace, services: Services, store: Store) -> int:
    code = exit_codes.OK
    folders = [resolved(path) for path in args.paths]
    with _writer(args, services):
        removed = [store.folders.remove(folder) for folder in folders]
    for path, was_removed in zip(args.paths, removed, strict=True):
        if was_removed:
            print(f"Removed {one_line(str(path))} from the index (your files are untouched).")
        else:
            print(f"kenning: {one_line(str(path))} is not an indexed folder.", file=sys.stderr)
            code = exit_codes.USAGE
    return code


if __name__ == "__main__":
    sys.exit(main())
