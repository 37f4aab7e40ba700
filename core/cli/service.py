"""``kenning service ...``, and the commands as clients of the background service.

With the service running, ``search`` and ``ask`` use its loaded model (no model load per
command), ``index`` hands folders to it and returns once they are searchable by their words,
and ``status`` shows its live progress. The printed output and the ``--json`` outputs are the
same as when a command runs on its own (``--no-service``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from core.cancel import Progress
from core.cli import exit_codes
from core.cli.ask_folder import resolved
from core.cli.output import (
    ProgressPrinter,
    answer_json,
    duration,
    one_line,
    print_answer,
    print_hits,
    progress_line,
    terminal_safe,
)
from core.config import AppPaths
from core.service.launch import (
    current_service,
    headless_command,
    start_service,
    stop_service,
)
from core.service.protocol import (
    ServiceClient,
    ServiceError,
    ServiceGone,
    answer_from_wire,
    connect,
    hit_from_wire,
    log_path,
)

if TYPE_CHECKING:
    from core.service.server import WindowPort
    from core.services import Services

#: Commands that start the service when none runs, and those that use it only when it runs.
STARTS_SERVICE = ("index", "search", "ask", "retry")
STARTS_OR_USES = (*STARTS_SERVICE, "forget")
#: The environment variable that keeps every command in its own process (as ``--no-service``).
NO_SERVICE_VARIABLE = "KENNING_NO_SERVICE"


def add_service_parser(sub: Any) -> None:
    p = sub.add_parser(
        "service",
        help="the background service that keeps indexing and answers commands quickly",
        description="Kenning runs in the background: it keeps your folders indexed and "
        "answers commands without loading the model each time. The first command or window "
        "starts it; `enable` also starts it when you log in.",
    )
    actions = p.add_subparsers(dest="service_action", metavar="ACTION", required=True)
    actions.add_parser("start", help="start it in the background (if it is not running)")
    actions.add_parser("stop", help="stop it (indexing goes on next time it starts)")
    status = actions.add_parser("status", help="whether it runs, and what it is doing "
                                "(exit 0 when it runs, 3 when it does not)")
    status.add_argument("--json", action="store_true", help="machine-readable (docs/cli.md)")
    for name, text in (("enable", "start it whenever you log in"),
                       ("disable", "no longer start it when you log in")):
        q = actions.add_parser(name, help=text)
        q.add_argument("--dry-run", action="store_true", help="show what would change")
        q.add_argument("--json", action="store_true", help="machine-readable (docs/cli.md)")
    actions.add_parser("run", help="run the service in this process (what `start` and "
                       "the login entry run)")


def service_wanted(args: argparse.Namespace, injected_model: bool) -> bool:
    """Whether this command goes through the service: not when asked not to, nor when it
    brings its own model or threads (the service runs with the settings' own)."""
    if args.no_service or os.environ.get(NO_SERVICE_VARIABLE):
        return False
    return not (injected_model or args.model or args.embedding_model or args.threads)


def service_client(args: argparse.Namespace, paths: AppPaths,
                   command: Sequence[str] | None) -> ServiceClient | None:
    """The running service, started first when this command may start it."""
    client = current_service(paths, replacing=_say_replacing)
    if client is not None or args.command not in STARTS_SERVICE:
        return client
    client = start_service(paths, args.home, command)
    if client is None:
        print(f"note: the background service did not start (see {log_path(paths)}); "
              "this command runs on its own.", file=sys.stderr)
    return client


def _say_replacing() -> None:
    print("note: Kenning was updated since its background service started; restarting it "
          "(indexing goes on where it was).", file=sys.stderr)


def run_remote(args: argparse.Namespace, client: ServiceClient) -> int:
    handler = {
        "index": remote_index,
        "retry": remote_index,
        "search": remote_search,
        "ask": remote_ask,
        "forget": remote_forget,
    }[args.command]
    with client:
        try:
            return handler(args, client)
        except ServiceError as exc:
            print(f"kenning: {exc}", file=sys.stderr)
            return exit_codes.USAGE if exc.usage else exit_codes.ERROR
        except ServiceGone:
            print("kenning: the background service stopped while working on this. Run the "
                  "command again (it starts the service again), or add --no-service.",
                  file=sys.stderr)
            return exit_codes.ERROR


def remote_search(args: argparse.Namespace, client: ServiceClient) -> int:
    query = args.query
    if args.scope is not None:
        query += f' dir:"{resolved(args.scope)}"'
    found = client.request({"action": "search", "query": query, "limit": args.limit,
                            "mode": args.mode})
    result = found["json"]
    if args.json:
        result["query"] = args.query
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        for warning in result.get("warnings", []):
            print(f"note: {warning}", file=sys.stderr)
        print_hits([hit_from_wire(h) for h in found["hits"]], sys.stdout)
    return exit_codes.OK


def remote_ask(args: argparse.Namespace, client: ServiceClient) -> int:
    scope = str(resolved(args.scope)) if args.scope is not None else None
    streamed: list[str] = []

    def on_event(event: dict[str, Any]) -> None:
        if event.get("event") == "text" and not args.json:
            piece = str(event.get("text", ""))
            streamed.append(piece)
            sys.stdout.write(terminal_safe(piece))
            sys.stdout.flush()

    with _interrupt_tells(client) as interrupted:
        reply = client.request({"action": "ask", "question": args.question, "scope": scope,
                                "stream": not args.json}, on_event)
    answer = answer_from_wire(reply["answer"])
    cut_off = bool(reply.get("interrupted")) or interrupted()
    if args.json:
        data = answer_json(answer)
        data["interrupted"] = cut_off
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return exit_codes.INTERRUPTED if cut_off else exit_codes.OK
    if cut_off:
        print("\nStopped before the answer was checked; nothing above is a checked answer.",
              file=sys.stderr)
        return exit_codes.INTERRUPTED
    print_answer(answer, "".join(streamed), sys.stdout)
    return exit_codes.OK


def remote_index(args: argparse.Namespace, client: ServiceClient) -> int:
    """Hand the folders to the service; return once their files are searchable by their
    words (``--wait``: by meaning too), with progress on the way."""
    wait_embedded = bool(getattr(args, "wait", False))
    if args.command == "retry":
        request: dict[str, Any] = {"action": "retry", "wait_embedded": wait_embedded}
    else:
        paths = [str(resolved(p)) for p in args.paths]
        request = {"action": "index", "paths": paths, "wait_embedded": wait_embedded,
                   "ocr": args.ocr}
    printer = ProgressPrinter(sys.stderr)

    def on_event(event: dict[str, Any]) -> None:
        if event.get("event") != "progress":
            return
        phase = str(event.get("phase"))
        if phase == "words-ready":
            printer.close()
            printer.say("Every file is searchable by its words now.")
            return
        if phase in ("scan", "extract", "embed"):
            printer(Progress(phase, int(event.get("done", 0)), int(event.get("total", 0)),
                             str(event.get("current", "")),
                             ocr_pages=int(event.get("ocr_pages", 0))))

    try:
        with _interrupt_tells(client) as interrupted:
            result = client.request(request, on_event)
    finally:
        printer.close()
    if args.command == "retry" and not result.get("retried"):
        print("Nothing to retry: no file failed.")
        return exit_codes.OK
    if interrupted() or not result.get("complete", False):
        print("Stopped waiting. Indexing goes on in the background; `kenning status` shows "
              "how far it is.", file=sys.stderr)
        return exit_codes.INTERRUPTED
    print(index_summary(result))
    return exit_codes.OK


def index_summary(result: dict[str, Any]) -> str:
    counts = result.get("files", {})
    left = int(result.get("chunks_to_embed", 0))
    searchable = counts.get("extracted", 0) + counts.get("embedded", 0)
    text = (f"Indexed: {searchable:,} files searchable by their words, "
            f"{counts.get('failed', 0):,} failed, {counts.get('skipped', 0):,} skipped.")
    if left:
        rate = result.get("embed_rate")
        eta = f", about {duration(left / rate)} left" if rate else ""
        text += (f"\n{left:,} passages left to embed for search by meaning{eta}; that goes "
                 "on in the background (`kenning status` shows progress, `kenning index "
                 "--wait` waits for it).")
    if counts.get("failed"):
        text += "\nSee `kenning status` for what failed and why."
    text += ('\nSearch now with `kenning search "your words"`, or run `kenning` alone to '
             "open the window.")
    return text


def remote_forget(args: argparse.Namespace, client: ServiceClient) -> int:
    result = client.request({"action": "forget", "paths": [str(p) for p in args.paths]})
    for path in result.get("removed", []):
        print(f"Removed {one_line(path)} from the index (your files are untouched).")
    for path in result.get("unknown", []):
        print(f"kenning: {one_line(path)} is not an indexed folder.", file=sys.stderr)
    return exit_codes.USAGE if result.get("unknown") else exit_codes.OK


class _interrupt_tells:
    """While a request runs, Ctrl+C asks the service to stop it (and the result still
    comes); a second Ctrl+C stops this command at once."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client
        self.count = 0

    def __enter__(self) -> Callable[[], bool]:
        self.previous = signal.signal(signal.SIGINT, self._handle)
        return lambda: self.count > 0

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self.previous)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count > 1:
            raise KeyboardInterrupt
        print("\nStopping (Ctrl+C again to stop at once)...", file=sys.stderr)
        try:
            self.client.send({"action": "cancel"})
        except ServiceGone:
            raise KeyboardInterrupt from None


# -- kenning service ... ------------------------------------------------------------------------


def run_service_command(args: argparse.Namespace, services: Services,
                        window: WindowPort | None, command: Sequence[str] | None) -> int:
    """``command``: the program that runs Kenning (None: this engine's headless service)."""
    from core.index.pacing import lower_priority
    from core.service.autostart import change_login_start
    from core.service.server import AlreadyRunning, BackgroundService

    paths = services.paths
    action = args.service_action
    if action == "run":
        try:
            lower_priority()  # before the service starts its threads: they inherit it
            return BackgroundService(services, window).run()
        except AlreadyRunning:
            print("Kenning's background service is already running for this library.",
                  file=sys.stderr)
            return exit_codes.OK
    if action == "start":
        running = current_service(paths, replacing=_say_replacing)
        if running is None:
            running = start_service(paths, args.home, command)
            if running is None:
                print(f"kenning: the background service did not start. Its log may say why: "
                      f"{log_path(paths)}", file=sys.stderr)
                return exit_codes.ERROR
        with running:
            pid = running.request({"action": "ping"})["pid"]
        print(f"Kenning runs in the background (process {pid}).")
        return exit_codes.OK
    if action == "stop":
        return _stop(paths)
    if action == "status":
        return _status(args, paths)
    report = change_login_start(action == "enable", paths, command or headless_command(),
                                dry_run=args.dry_run)
    enable = action == "enable"
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        for outcome in report.outcomes:
            print(f"{outcome.status}: {one_line(outcome.path)}"
                  + (f" ({outcome.message})" if outcome.message else ""))
        if not report.failed and not args.dry_run:
            print("Kenning will start in the background when you log in." if enable else
                  "Kenning will no longer start when you log in.")
    return exit_codes.ERROR if report.failed else exit_codes.OK


def _stop(paths: AppPaths) -> int:
    pid = stop_service(paths)
    if pid is None:
        print("Kenning's background service is not running.")
        return exit_codes.OK
    print(f"Stopped Kenning's background service (process {pid})." if pid else
          "Stopped Kenning's background service.")
    return exit_codes.OK


def service_status(paths: AppPaths) -> dict[str, Any]:
    """The service's own account of itself, or ``{"running": False}``."""
    client = connect(paths)
    if client is None:
        return {"running": False}
    with client:
        try:
            return client.request({"action": "status"})
        except (ServiceGone, ServiceError):
            return {"running": False}


def _status(args: argparse.Namespace, paths: AppPaths) -> int:
    from core.service.autostart import starts_at_login

    data = service_status(paths)
    data["autostart"] = starts_at_login()
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(describe_service(data))
    return exit_codes.OK if data["running"] else exit_codes.NOT_RUNNING


def describe_service(data: dict[str, Any]) -> str:
    """One or two lines about the service, for people."""
    if not data.get("running"):
        return ("Background service: not running (the next `kenning index`, search or "
                "window starts it).")
    line = f"Background service: running (process {data.get('pid')})"
    model = data.get("model")
    if model == "loading":
        line += ", loading the model"
    elif model == "none":
        line += ", the model loads once every file is searchable by its words"
    elif model == "failed":
        line += f", keyword search only: {data.get('model_error')}"
    if data.get("paused"):
        return line + ", paused."
    progress = data.get("progress")
    if progress:
        made = Progress(progress["phase"], progress["done"], progress["total"],
                        ocr_pages=int(progress.get("ocr_pages", 0)))
        if data.get("on_battery"):
            line += ", on battery power: indexing at half speed"
        return f"{line}.\n  {progress_line(made, 0)}"
    return line + ", idle: everything is indexed."
