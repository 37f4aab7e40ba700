"""Plots for docs/: search latency against collection size, and embedding throughput against
the raw prompt-processing rate.

- ``docs/latency.png``: p50 and p95 per search mode, from the latest table of the search
  latency section of docs/benchmarks.md whose first column is ``chunks`` (rows like
  ``| 100,000 | after | 109 / 193 ms | ... |``), or from a JSON file
  ``{"series": {"keywords": {"sizes": [...], "p50": [...], "p95": [...]}, ...}}``.
- ``docs/throughput.png``: the raw rate, the pipeline end to end and its embedding calls
  alone, from the JSON ``bench/throughput_limit.py --json`` writes.

    python bench/plots.py
    python bench/plots.py --throughput-json bench/.cache/throughput.json --latency-json l.json

Needs matplotlib (``pip install .[bench]``); without it, says so and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "docs" / "benchmarks.md"
LATENCY_SECTION = "## How long does a search take"
_CELL = re.compile(r"^\s*([\d.]+)\s*/\s*([\d.]+)\s*ms\s*$")

Series = dict[str, dict[str, list[float]]]


def latency_from_markdown(text: str) -> Series:
    """The latest table of the search latency section whose first column is ``chunks``:
    one series per mode (and per run, when the table has a ``run`` column)."""
    start = text.find(LATENCY_SECTION)
    if start < 0:
        raise ValueError(f"no {LATENCY_SECTION!r} section in docs/benchmarks.md")
    section = text[start:]
    following = section.find("\n## ", 1)
    section = section if following < 0 else section[:following]
    tables: list[list[list[str]]] = [[]]
    for line in section.splitlines():
        if line.startswith("|"):
            tables[-1].append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif tables[-1]:
            tables.append([])
    chunk_tables = [t for t in tables if t and t[0][0].lower() == "chunks"]
    if not chunk_tables:
        raise ValueError("no table of latency by chunk count in the search latency section")
    header, *rows = chunk_tables[-1]
    run_column = header.index("run") if "run" in header else None
    series: Series = {}
    for cells in rows:
        size = cells[0].replace(",", "")
        if not size.isdigit():
            continue  # the |---| line
        run = cells[run_column] if run_column is not None else ""
        for column, (name, cell) in enumerate(zip(header, cells, strict=False)):
            match = _CELL.match(cell.replace("**", ""))
            if column == run_column or not match:
                continue
            label = name.split(" p50")[0] + (f" ({run})" if run else "")
            entry = series.setdefault(label, {"sizes": [], "p50": [], "p95": []})
            entry["sizes"].append(float(size))
            entry["p50"].append(float(match.group(1)))
            entry["p95"].append(float(match.group(2)))
    return series


def plot_latency(plt: Any, series: Series, out: Path) -> None:
    """Wall-clock p50 and p95 per mode; a "before" run as faded p95 only. CPU-time columns
    and forced-baseline runs ("exact") stay in the table: the plot would be unreadable."""
    figure, axes = plt.subplots(figsize=(7.5, 4.5))
    shown = {k: v for k, v in series.items() if "CPU" not in k and "exact" not in k}
    modes = list(dict.fromkeys(label.split(" (")[0] for label in shown))
    for label, values in shown.items():
        colour = f"C{modes.index(label.split(' (')[0])}"
        earlier = "before" in label  # a baseline row: its p95 only, faded
        if not earlier:
            axes.plot(values["sizes"], values["p50"], "o-", color=colour, label=f"{label} p50")
        axes.plot(values["sizes"], values["p95"], "s--", color=colour,
                  alpha=0.4 if earlier else 0.8, label=f"{label} p95")
    axes.axhline(100, color="grey", linewidth=0.8, linestyle=":", label="goal: p95 100 ms")
    axes.set_xscale("log")
    axes.set_xlabel("chunks in the index")
    axes.set_ylabel("search latency (ms)")
    axes.set_title("Search latency against collection size (docs/benchmarks.md)", fontsize=10)
    axes.legend(fontsize=7)
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)


def plot_throughput(plt: Any, figures: dict[str, Any], out: Path) -> None:
    pipeline = figures["pipeline"]
    raw = statistics.mean(figures["raw_tok_s"])
    end_to_end = pipeline["tokens"] / pipeline["total_s"]
    embed_key = next(k for k in pipeline["split"] if k.startswith("embedding calls"))
    embed_only = pipeline["tokens"] / pipeline["split"][embed_key]
    labels = ["raw prompt processing\n(one 512-token decode)", "pipeline, embedding\ncalls alone",
              "pipeline, end to end\n(extract → store)"]
    values = [raw, embed_only, end_to_end]
    figure, axes = plt.subplots(figsize=(7, 4.2))
    bars = axes.bar(labels, values, color=["grey", "C1", "C0"])
    for bar, value in zip(bars, values, strict=True):
        axes.annotate(f"{value:.0f} tok/s\n{value / raw:.2f}×", (bar.get_x() + bar.get_width() / 2,
                      value), ha="center", va="bottom", fontsize=9)
    axes.axhline(0.8 * raw, color="red", linewidth=0.8, linestyle=":", label="goal: 0.8× raw")
    axes.set_ylabel("tokens per second")
    load = " → ".join(f"{x:.1f}" for x in figures.get("load_average", []))
    axes.set_title(f"Embedding throughput, {figures.get('date', '')} (load average {load})",
                   fontsize=10)
    axes.set_ylim(0, max(values) * 1.25)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-json", type=Path, help="instead of docs/benchmarks.md")
    parser.add_argument("--throughput-json", type=Path,
                        default=REPO / "bench" / ".cache" / "throughput.json")
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install .[bench]); no plots written.")
        return 0

    if args.latency_json:
        series = json.loads(args.latency_json.read_text(encoding="utf-8"))["series"]
    else:
        series = latency_from_markdown(BENCHMARKS.read_text(encoding="utf-8"))
    if series:
        plot_latency(plt, series, args.out / "latency.png")
        print(f"wrote {args.out / 'latency.png'} ({len(series)} series)")
    else:
        print("no latency figures found; latency.png not written")

    if args.throughput_json.exists():
        figures = json.loads(args.throughput_json.read_text(encoding="utf-8"))
        plot_throughput(plt, figures, args.out / "throughput.png")
        print(f"wrote {args.out / 'throughput.png'}")
    else:
        print(f"{args.throughput_json} not found (run bench/throughput_limit.py --json "
              f"{args.throughput_json}); throughput.png not written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
