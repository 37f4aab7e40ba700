"""Start-up: from launch to a usable search window, and ``kenning search --json`` to its answer.

Uses a small, fully embedded index made once in ``bench/.cache/startup-home`` (40 generated
files of Medline abstracts, the bundled model), so nothing is left to index while timing.
Every run is a fresh process (imports count); the runs alternate.

- Window (offscreen): the real ``build_window`` on that home, a query set as soon as the
  window is shown; times since launch until the window is shown, the engine's ``ready``
  signal (database open), the first result (keywords), ``model_ready`` and the first result
  that used meaning.
- CLI: ``kenning search --json QUERY`` wall time as a process, and the same steps in a
  process of this script with a clock between them: interpreter, imports, database open,
  model load, query embedding, the rest of the search.

    nice -n 10 python bench/startup.py                 # 3 runs of each
    nice -n 10 python bench/startup.py --runs 5 --query "blood pressure in children"

Never gates CI on a time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CACHE_HOME = REPO / "bench" / ".cache" / "startup-home"
KENNING = Path(sys.executable).with_name("kenning")
DEFAULT_QUERY = "oxygen therapy for newborn infants"


def build_home(files: int) -> Path:
    """The index the runs start on, made once (the real model embeds every chunk)."""
    if (CACHE_HOME / ".complete").exists():
        return CACHE_HOME
    sys.path.insert(0, str(REPO))
    from bench.embed_coverage import make_folder

    shutil.rmtree(CACHE_HOME, ignore_errors=True)
    make_folder(CACHE_HOME / "files", files, 3)
    env = dict(os.environ, KENNING_HOME=str(CACHE_HOME / "home"))
    print(f"making the start-up index ({files} files, embedded with the real model) ...")
    subprocess.run([str(KENNING), "index", str(CACHE_HOME / "files")], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    (CACHE_HOME / ".complete").write_text("", encoding="utf-8")
    return CACHE_HOME


# -- child processes: each prints one JSON line of seconds since the parent launched it -----


def window_child(home: Path, query: str, launched: float, timeout: float) -> dict[str, float]:
    marks: dict[str, float] = {"interpreter up": time.time() - launched}

    def mark(name: str) -> None:
        marks.setdefault(name, time.time() - launched)

    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    sys.path.insert(0, str(REPO))
    from PySide6.QtWidgets import QApplication

    from app.main import build_window
    from core.config import AppPaths, Settings
    from core.search.retrieval import SearchResult
    from core.services import Services

    mark("imports done")
    app = QApplication([])
    paths = AppPaths.resolve(home)
    window = build_window(Services(paths, Settings.load(paths.settings_file)))
    engine = window.engine
    engine.ready.connect(lambda: mark("engine ready (database open)"))
    engine.model_ready.connect(lambda: mark("model ready"))

    def on_result(result: SearchResult | None) -> None:
        if result is not None and result.hits:
            mark("first result (keywords)")
            if result.semantic_used:
                mark("first result by meaning")

    window.search.finished.connect(on_result)
    window.show()
    mark("window shown")
    engine.start()
    window.search.set_text(query)  # typed at once; it runs when the database is ready
    deadline = time.monotonic() + timeout
    while "first result by meaning" not in marks and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.002)
    engine.shutdown()
    window.close()
    return marks


def cli_child(home: Path, query: str, launched: float) -> dict[str, float]:
    marks: dict[str, float] = {"interpreter up": time.time() - launched}
    sys.path.insert(0, str(REPO))
    from core.cli.main import build_parser  # noqa: F401  (what `kenning` imports first)
    from core.config import AppPaths, Settings
    from core.search.retrieval import search
    from core.services import Services

    marks["imports done"] = time.time() - launched
    paths = AppPaths.resolve(home)
    services = Services(paths, Settings.load(paths.settings_file))
    store = services.open_store()
    marks["database open"] = time.time() - launched
    model = services.model
    marks["model loaded"] = time.time() - launched
    embed_seconds: list[float] = []
    embed_query = model.embed_query

    def timed_embed_query(text: str) -> Any:
        start = time.perf_counter()
        try:
            return embed_query(text)
        finally:
            embed_seconds.append(time.perf_counter() - start)

    model.embed_query = timed_embed_query  # type: ignore[method-assign]
    result = search(store, query, model, limit=10, mode="hybrid")
    marks["first result"] = time.time() - launched
    marks["of which query embedding"] = sum(embed_seconds)
    marks["hits"] = len(result.hits)
    marks["semantic used"] = float(result.semantic_used)
    store.close()
    services.close()
    return marks


# -- parent ------------------------------------------------------------------------------


def run_child(mode: str, home: Path, query: str, timeout: float) -> dict[str, float]:
    launched = time.time()
    out = subprocess.run([sys.executable, __file__, mode, str(home), query, repr(launched),
                          str(timeout)], capture_output=True, text=True, timeout=timeout + 60)
    if out.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{out.stderr[-3000:]}")
    marks: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    marks["process exited"] = time.time() - launched
    return marks


def cli_process(home: Path, query: str) -> float:
    env = dict(os.environ, KENNING_HOME=str(home))
    start = time.perf_counter()
    out = subprocess.run([str(KENNING), "search", "--json", query], env=env,
                         capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - start
    if not json.loads(out.stdout)["hits"]:
        raise SystemExit("kenning search found nothing: the start-up index is not usable")
    return elapsed


def show(title: str, runs: list[dict[str, float]]) -> None:
    print(title)
    for name in runs[0]:
        values = [r[name] for r in runs if name in r]
        unit = "" if name in ("hits", "semantic used") else " s"
        spread = f"  (runs: {', '.join(f'{v:.2f}' for v in values)})" if unit else ""
        print(f"  {name:34s} {statistics.median(values):7.2f}{unit}{spread}")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] in ("--window-child", "--cli-child"):
        mode, child_home, query, launched, timeout = sys.argv[1:6]
        if mode == "--window-child":
            marks = window_child(Path(child_home), query, float(launched), float(timeout))
        else:
            marks = cli_child(Path(child_home), query, float(launched))
        print(json.dumps(marks))
        return 0

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--query", default=DEFAULT_QUERY)
    parser.add_argument("--files", type=int, default=40, help="files in the start-up index")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()

    home = build_home(args.files) / "home"
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    window_runs, cli_runs, cli_walls = [], [], []
    for _ in range(args.runs):  # alternate, so background load hits every kind alike
        window_runs.append(run_child("--window-child", home, args.query, args.timeout))
        cli_walls.append(cli_process(home, args.query))
        cli_runs.append(run_child("--cli-child", home, args.query, args.timeout))
    show("Window (offscreen), seconds since launch, median of runs:", window_runs)
    print(f"`kenning search --json` process, launch to exit: "
          f"{statistics.median(cli_walls):.2f} s  (runs: "
          f"{', '.join(f'{v:.2f}' for v in cli_walls)})")
    show("The same search step by step, seconds since launch:", cli_runs)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
