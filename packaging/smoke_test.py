"""Smoke test of a frozen Kenning (the PyInstaller bundle, or what an installer put on disk).

    python3 packaging/smoke_test.py [BINARY]   (default: packaging/build/dist/kenning/kenning)

Standard library only, so the same file runs on Linux, Windows (give it ``kenning-cli.exe``,
the console front door) and macOS (``Kenning.app/Contents/MacOS/kenning``), against a throwaway
home folder, with the user's own folders (HOME, XDG_*, APPDATA) pointed into it as well:

1. ``--version`` and ``model list --json``;
2. index the sample documents shipped inside the bundle (PDF, HTML, Markdown, text): the spawned
   extraction child, PyMuPDF, sqlite-vec and the built-in model, loaded from its prepared copy;
3. ``search --json`` and ``ask --json``, whose hits and citations must come from the samples;
4. ``integrate install --dry-run``, which must print the entries and write none of them;
5. the window on the offscreen Qt platform for a few seconds: it must stay up, take a folder
   handed over by ``ask-folder`` and add it to the index, and print no Qt warning;
6. on Linux, the X libraries Qt's xcb display plugin needs are inside the bundle, so the window
   starts on a desktop that lacks them.

Prints how long each step took; exit status 0 means every step passed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WINDOW_SECONDS = float(os.environ.get("SMOKE_WINDOW_SECONDS", "8"))
# Said by the offscreen platform itself (it has no window manager to size or raise a window
# for); not Kenning's doing, and never seen on a real display.
HARMLESS_QT_LINES = ("propagateSizeHints", "This plugin does not support raise()")
# The libraries Qt's xcb plugin loads that desktops often lack (the .deb's Depends list).
# libxcb.so.1, libX11 and libGL stay the system's: PyInstaller leaves them out on purpose,
# since they come with every X desktop and must match its server and drivers.
XCB_LIBS = ("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1",
            "libxcb-image.so.0", "libxcb-render-util.so.0", "libxcb-randr.so.0",
            "libxcb-shape.so.0", "libxcb-xfixes.so.0", "libxcb-xkb.so.1",
            "libxkbcommon-x11.so.0")


class SmokeFailure(Exception):
    pass


def main(argv: list[str]) -> int:
    binary = Path(argv[1] if len(argv) > 1 else ROOT / "packaging/build/dist/kenning/kenning")
    bundle = binary.resolve().parent
    if bundle.name == "MacOS":  # Kenning.app/Contents/MacOS/kenning: data is in Contents/
        bundle = bundle.parent
    samples = next((p for p in bundle.rglob("documents") if p.parent.name == "samples"), None)
    if not os.access(binary, os.X_OK) or samples is None:
        print(f"smoke: no bundle at {binary} (or it lacks resources/samples); build it first",
              file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="kenning-smoke-"))
    try:
        Smoke(binary, bundle, samples, work).run()
    except SmokeFailure as exc:
        print(f"smoke: FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("smoke: OK")
    return 0


class Smoke:
    def __init__(self, binary: Path, bundle: Path, samples: Path, work: Path) -> None:
        self.binary, self.bundle, self.work = binary, bundle, work
        self.home = work / "home"
        self.docs = work / "docs"
        shutil.copytree(samples, self.docs)  # a copy, so the bundle stays read-only
        user = work / "user"
        self.user_dirs = {
            "HOME": user, "USERPROFILE": user, "APPDATA": user / "AppData",
            "LOCALAPPDATA": user / "LocalAppData", "XDG_DATA_HOME": user / "share",
            "XDG_CONFIG_HOME": user / "config",
        }
        for folder in self.user_dirs.values():
            folder.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
                    **{name: str(path) for name, path in self.user_dirs.items()}}
        self.env.pop("KENNING_HOME", None)

    def kenning(self, *args: str, home: bool = True) -> str:
        command = [str(self.binary), *(["--home", str(self.home)] if home else []), *args]
        done = subprocess.run(command, env=self.env, capture_output=True, text=True,
                              encoding="utf-8", errors="replace", timeout=900)
        if done.returncode != 0:
            raise SmokeFailure(f"{' '.join(args)} exited {done.returncode}:\n"
                               f"{done.stdout}{done.stderr}")
        return done.stdout

    def step(self, label: str, action: Callable[[], str]) -> None:
        start = time.perf_counter()
        detail = action()
        took = time.perf_counter() - start
        print(f"smoke: {label}: {took:.1f} s" + (f" ({detail})" if detail else ""), flush=True)

    def run(self) -> None:
        self.step("--version", self.version)
        self.step("model list --json", self.model_list)
        self.step(f"index {len(list(self.docs.iterdir()))} sample files (first start unpacks "
                  "the built-in model and prepares its copy)", self.index)
        self.step("start-up to first search result", self.search)
        self.step("ask, answered from the samples", self.ask)
        self.step("integrate install --dry-run", self.integrate_dry_run)
        self.step("the window, offscreen, with a folder handed over by ask-folder", self.window)
        if sys.platform.startswith("linux"):
            self.step("the X libraries Qt's xcb plugin needs are in the bundle", self.xcb_libs)

    def version(self) -> str:
        out = self.kenning("--version", home=False).strip()
        if not re.fullmatch(r"kenning \d+\.\d+\.\d+\S*", out):
            raise SmokeFailure(f"--version printed {out!r}, not 'kenning <version>'")
        return out

    def model_list(self) -> str:
        listing = json.loads(self.kenning("model", "list", "--json"))
        if not listing["models"] or not listing["bundled"]:
            raise SmokeFailure(f"model list: no catalogue or no built-in model: {listing}")
        return f"{len(listing['models'])} models in the catalogue, built-in model in use"

    def index(self) -> str:
        self.kenning("index", str(self.docs))
        # The prepared copy (core/models/llama/prepared_weights.py) needs ggml's library where
        # the bundle keeps llama.cpp: its absence means the bundle lost that library's path.
        if not list((self.home / "data/models/cache").glob("*.q5-as-q8.gguf")):
            raise SmokeFailure("the model's prepared copy was not made")
        files = json.loads(self.kenning("status", "--json"))["folders"][0]["files"]
        return ", ".join(f"{count} {state}" for state, count in files.items() if count)

    def search(self) -> str:
        result = json.loads(self.kenning("search", "boiler pressure", "--json"))
        hits = result["hits"]
        if not hits or not all(self.in_docs(hit["path"]) for hit in hits):
            raise SmokeFailure(f"search: no hits, or hits outside the samples: {result}")
        if not result["semantic"]:
            raise SmokeFailure(f"search by meaning was off: {result['warnings']}")
        return f"{len(hits)} hits, first {Path(hits[0]['path']).name}"

    def ask(self) -> str:
        result = json.loads(self.kenning("ask", "How much notice must the tenant give?",
                                         "--json"))
        citations = result["citations"]
        # Found or not, citations name passages (the evidence, or the closest ones to look at).
        if not citations or not all(self.in_docs(c["path"]) for c in citations):
            raise SmokeFailure(f"ask: no citations, or citations outside the samples: {result}")
        return (f"found={result['found']}, first source {Path(citations[0]['path']).name}: "
                f"{result['answer'][:80]!r}")

    def integrate_dry_run(self) -> str:
        out = self.kenning("integrate", "install", "--dry-run")
        if "ask-folder" not in out:
            raise SmokeFailure(f"integrate install --dry-run did not show the entry:\n{out}")
        written = [p for d in self.user_dirs.values() for p in d.rglob("*") if p.is_file()]
        if written:
            raise SmokeFailure(f"integrate install --dry-run wrote files: {written}")
        return f"{len(out.splitlines())} lines shown, nothing written"

    def window(self) -> str:
        log_path = self.work / "window.log"
        with log_path.open("w", encoding="utf-8") as log:
            window = subprocess.Popen([str(self.binary), "--home", str(self.home)],
                                      env=self.env, stdout=log, stderr=subprocess.STDOUT)
        try:
            time.sleep(WINDOW_SECONDS)
            if window.poll() is not None:
                raise SmokeFailure(f"the window exited early ({window.returncode}):\n"
                                   f"{log_path.read_text(encoding='utf-8', errors='replace')}")
            # "Ask Kenning about this folder" while the window runs: the request must reach
            # that window (the command returns at once) and the window must index the folder.
            asked = self.work / "asked $ 'folder'"
            asked.mkdir()
            (asked / "gutter.txt").write_text("The gutter above the porch overflows in rain.\n")
            self.kenning("ask-folder", str(asked))
            if not self.wait_for_folder(asked.name):
                raise SmokeFailure("the running window did not add the folder ask-folder gave")
            if window.poll() is not None:
                raise SmokeFailure(f"the window stopped ({window.returncode})")
        finally:
            window.terminate()
            window.wait(timeout=60)
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        warnings = [line for line in lines
                    if line.strip() and not any(h in line for h in HARMLESS_QT_LINES)]
        if warnings:
            raise SmokeFailure("the window printed warnings:\n" + "\n".join(warnings))
        return f"stayed up {WINDOW_SECONDS:.0f} s, took the folder, printed nothing"

    def wait_for_folder(self, name: str) -> bool:
        for _ in range(120):
            if name in self.kenning("status", "--json"):
                return True
            time.sleep(1)
        return False

    def xcb_libs(self) -> str:
        # The bundle's launcher puts its own folder first on the library path; ldd with the
        # same path shows where the display plugin's libraries would be loaded from.
        plugins = list(self.bundle.rglob("platforms/libqxcb.so"))
        if not plugins:
            raise SmokeFailure("the bundle has no Qt xcb platform plugin")
        internal = next(p for p in (self.bundle / "_internal", self.bundle) if p.is_dir())
        ldd = subprocess.run(["ldd", str(plugins[0])], capture_output=True, text=True,
                             env={**os.environ, "LD_LIBRARY_PATH": str(internal)}, check=True)
        missing = [line.strip() for line in ldd.stdout.splitlines() if "not found" in line]
        outside = [name for name in XCB_LIBS if not (internal / name).is_file()]
        if missing or outside:
            raise SmokeFailure(
                f"the xcb plugin lacks libraries: unresolved {missing}, not in the bundle "
                f"{outside}. Install them where the bundle is built (Debian/Ubuntu: "
                "libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 "
                "libxcb-render-util0 libxcb-randr0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 "
                "libxkbcommon-x11-0) and build again.")
        return f"{len(XCB_LIBS)} libraries carried"

    def in_docs(self, path: str) -> bool:
        return Path(path).resolve().is_relative_to(self.docs.resolve())


if __name__ == "__main__":
    sys.exit(main(sys.argv))
