#!/usr/bin/env bash
# Start-up to first search result: the frozen bundle against the same program run from source,
# on one index of the sample documents, alternating runs so machine load hits both alike.
#   packaging/bench_startup.sh [frozen-binary] [source-kenning] [runs]
# Defaults: packaging/build/dist/kenning/kenning, .venv/bin/kenning (the environment tests/run.sh
# makes), 5 runs. Prints the date, the commit and the load with the figures.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
FROZEN="${1:-$ROOT/packaging/build/dist/kenning/kenning}"
SOURCE="${2:-$ROOT/.venv/bin/kenning}"
RUNS="${3:-5}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp -r "$ROOT/resources/samples/documents" "$WORK/docs"
"$FROZEN" --home "$WORK/home" index "$WORK/docs" > /dev/null 2>&1

date -u
git -C "$ROOT" rev-parse --short HEAD
uptime
python3 - "$FROZEN" "$SOURCE" "$WORK/home" "$RUNS" <<'PY'
import json, statistics, subprocess, sys, time
frozen, source, home, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def timed(binary, *args):
    start = time.perf_counter()
    out = subprocess.run([binary, "--home", home, *args], check=True, capture_output=True).stdout
    return time.perf_counter() - start, out

for label, args in (("--help (imports only)", ["--help"]),
                    ("search --json (model load + first result)",
                     ["search", "boiler pressure", "--json"])):
    times = {"frozen": [], "source": []}
    for _ in range(runs):
        for name, binary in (("frozen", frozen), ("source", source)):
            seconds, out = timed(binary, *args)
            if args[0] == "search":
                assert json.loads(out)["hits"], name
            times[name].append(seconds)
    f, s = statistics.median(times["frozen"]), statistics.median(times["source"])
    print(f"{label}: frozen {f:.2f} s, source {s:.2f} s (median of {runs}), "
          f"frozen/source {f / s:.2f}")
PY
