#!/usr/bin/env bash
# Smoke test of the frozen Kenning bundle, headless, against a throwaway home folder:
#   packaging/smoke_test.sh [path/to/kenning]   (default: packaging/build/dist/kenning/kenning)
# 1. index the sample documents shipped inside the bundle (PDF, HTML, Markdown, text), which
#    exercises the spawned extraction child, PyMuPDF, sqlite-vec and the bundled model (loaded
#    from the copy prepared on first use);
# 2. search with --json and require hits from a sample file;
# 3. open the window on the offscreen Qt platform and require it to stay up (no display needed);
# 4. kenning ask-folder hands a folder to that running window, which adds it to the index.
# Prints how long each step took. Exit status 0 means every step passed.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${1:-$ROOT/packaging/build/dist/kenning/kenning}"
BUNDLE="$(dirname "$BIN")"
SAMPLES="$(find "$BUNDLE" -type d -path '*resources/samples/documents' | head -n 1)"
if [[ ! -x "$BIN" || -z "$SAMPLES" ]]; then
    echo "smoke: no bundle at $BIN (or it lacks resources/samples); build it first" >&2
    exit 2
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/home" "$WORK/docs"
cp -r "$SAMPLES/." "$WORK/docs/"   # a copy, so the bundle stays read-only
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

start="$(now)"
"$BIN" --home "$WORK/home" search "anything" --json > /dev/null
echo "smoke: first command on an empty home (unpacks the built-in model once): $(elapsed "$start" "$(now)") s"

# The model is loaded from its prepared copy (Q5_0 layers widened; core/models/llama/prepared_weights.py),
# which needs ggml's library where the bundle keeps llama.cpp.
ls "$WORK"/home/data/models/cache/*.q5-as-q8.gguf > /dev/null 2>&1 \
    || { echo "smoke: the model's prepared copy was not made" >&2; exit 1; }
echo "smoke: the model was loaded from its prepared copy"

start="$(now)"
"$BIN" --home "$WORK/home" index "$WORK/docs" > "$WORK/index.log" 2>&1 \
    || { cat "$WORK/index.log" >&2; echo "smoke: index failed" >&2; exit 1; }
echo "smoke: index $(ls "$WORK/docs" | wc -l) sample files: $(elapsed "$start" "$(now)") s"

start="$(now)"
"$BIN" --home "$WORK/home" search "boiler pressure" --json > "$WORK/hits.json"
echo "smoke: start-up to first search result: $(elapsed "$start" "$(now)") s"
python3 - "$WORK/hits.json" "$WORK/docs" <<'PY'
import json, sys
result = json.load(open(sys.argv[1], encoding="utf-8"))
hits = result["hits"]
assert hits, f"no hits: {result}"
assert all(hit["path"].startswith(sys.argv[2]) for hit in hits), hits
assert result["semantic"], f"meaning-based search was off: {result['warnings']}"
print(f"smoke: {len(hits)} hits, first {hits[0]['path'].rsplit('/', 1)[-1]}")
PY

# The window: it must start and keep running; stop it after a few seconds.
QT_QPA_PLATFORM=offscreen "$BIN" --home "$WORK/home" > "$WORK/window.log" 2>&1 &
window=$!
sleep "${SMOKE_WINDOW_SECONDS:-8}"
if ! kill -0 "$window" 2>/dev/null; then
    wait "$window" || true
    cat "$WORK/window.log" >&2
    echo "smoke: the window exited early" >&2
    exit 1
fi
echo "smoke: window started (offscreen) and stayed up"

# "Ask Kenning about this folder" while the window runs: the request must reach that window
# (the command exits at once) and the window must add the folder to the index.
ASKED="$WORK/asked \$ 'folder'"
mkdir -p "$ASKED" && echo "The gutter above the porch overflows in heavy rain." > "$ASKED/gutter.txt"
start="$(now)"
QT_QPA_PLATFORM=offscreen "$BIN" --home "$WORK/home" ask-folder "$ASKED" \
    || { echo "smoke: ask-folder failed" >&2; kill "$window"; exit 1; }
echo "smoke: ask-folder handed over to the running window: $(elapsed "$start" "$(now)") s"
for _ in $(seq 1 60); do
    "$BIN" --home "$WORK/home" status --json 2>/dev/null | grep -qF "asked \$ 'folder'" && break
    sleep 1
done
"$BIN" --home "$WORK/home" status --json | grep -qF "asked \$ 'folder'" \
    || { echo "smoke: the window did not add the asked folder" >&2; kill "$window"; exit 1; }
echo "smoke: the running window added the asked folder"
kill "$window"; wait "$window" 2>/dev/null || true
echo "smoke: OK"
