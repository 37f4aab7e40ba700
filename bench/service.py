"""Commands with and without the background service: search and ask latency, and the
service's CPU use while idle.

    nice -n 10 python bench/service.py --queries 50 --asks 10 --idle 60

Indexes the sample documents into a private home, then in one run times ``kenning search``
(the whole command, process start included) with ``--no-service`` (the baseline: each
command loads the model) and through the running service, the same for the first streamed
piece of ``kenning ask``, and the request alone over the socket. Last, the service's CPU
seconds over ``--idle`` seconds with nothing to do (Linux: /proc). Prints a table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.config import AppPaths  # noqa: E402
from core.resources import resource  # noqa: E402
from core.service.protocol import connect  # noqa: E402

QUERIES = ["notice before leaving", "boiler pressure", "holiday allowance", "invoice total",
           "garden compost", "rent due date", "warranty period", "meeting minutes"]
QUESTIONS = ["How much notice must the tenant give?", "What should the boiler pressure read?"]


def kenning(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "app.launch", "--home", str(home), *args]


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def first_piece(argv: list[str], env: dict[str, str]) -> float:
    """Seconds until the command prints its first byte of answer."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    process.stdout.read(1)
    elapsed = time.perf_counter() - start
    process.communicate()
    return elapsed


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered) * 1000:,.0f} / {p95 * 1000:,.0f} ms"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--asks", type=int, default=10)
    parser.add_argument("--idle", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {k: v for k, v in os.environ.items() if k != "KENNING_NO_SERVICE"}
        samples = str(resource("samples", "documents"))
        subprocess.run(kenning(home, "--no-service", "index", samples), cwd=ROOT, env=env,
                       check=True, capture_output=True)
        queries = [QUERIES[n % len(QUERIES)] for n in range(args.queries)]
        questions = [QUESTIONS[n % len(QUESTIONS)] for n in range(args.asks)]
        alone = [timed(kenning(home, "--no-service", "search", "--json", q), env)
                 for q in queries]
        ask_alone = [first_piece(kenning(home, "--no-service", "ask", q), env)
                     for q in questions]
        subprocess.run(kenning(home, "service", "start"), cwd=ROOT, env=env, check=True,
                       capture_output=True)
        try:
            timed(kenning(home, "search", "warm up"), env)  # waits for the model once
            served = [timed(kenning(home, "search", "--json", q), env) for q in queries]
            ask_served = [first_piece(kenning(home, "ask", q), env) for q in questions]
            socket_only = []
            paths = AppPaths.resolve(home)
            for q in queries:
                client = connect(paths)
                assert client is not None
                with client:
                    start = time.perf_counter()
                    client.request({"action": "search", "query": q, "limit": 10})
                    socket_only.append(time.perf_counter() - start)
            client = connect(paths)
            assert client is not None
            with client:
                pid = int(client.request({"action": "status"})["pid"])
            idle_cpu = None
            if Path(f"/proc/{pid}/stat").exists():
                before = cpu_seconds(pid)
                time.sleep(args.idle)
                idle_cpu = cpu_seconds(pid) - before
        finally:
            subprocess.run(kenning(home, "service", "stop"), cwd=ROOT, env=env,
                           capture_output=True)
    print(f"{args.queries} searches, {args.asks} questions, sample documents "
          f"(load {os.getloadavg()[0]:.1f})")
    print("| command | without the service (baseline) | with the service |")
    print("|---|---|---|")
    print(f"| `kenning search --json` p50 / p95 | {summary(alone)} | {summary(served)} |")
    print(f"| `kenning ask`, first piece p50 / p95 | {summary(ask_alone)} | "
          f"{summary(ask_served)} |")
    print(f"| search request over the socket alone p50 / p95 | — | {summary(socket_only)} |")
    if idle_cpu is not None:
        print(f"\nIdle service: {idle_cpu:.2f} CPU seconds in {args.idle:.0f} s "
              f"({100 * idle_cpu / args.idle:.2f}% of one core)")


if __name__ == "__main__":
    main()
