"""The bundled model loaded from its file vs from its prepared copy (Q5_0 layers as Q8_0).

Both are loaded in the same process and measured round by round, alternating which goes first,
so a busy machine slows both alike; each measure is compared round by round (the paired ratio):
- reading a prompt: a ~650-token answer prompt (five 10-Q passages and a question), timed to
  the first generated token, each round with a new opening so no saved state is reused;
- writing: milliseconds per generated token (greedy, 64 tokens);
- embedding: seconds for ten Medline abstracts (another ten each round), 384-token passes as
  when indexing.

    nice -n 10 python bench/prepared_weights.py --rounds 20

Prints the median per side and the median (and quartiles) of the per-round ratio
prepared/original. Never gates CI on a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.models.default_model import default_model_path  # noqa: E402
from core.models.interface import ChatMessage, GenerationSettings  # noqa: E402
from core.models.llama.prepared_weights import prepared_weights  # noqa: E402
from core.models.llama.unified import UnifiedModel  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval"
PROMPT_TOKENS = 650
EMBED_TEXTS = 10


def passages(count: int) -> list[str]:
    with (SHARED / "medline" / "corpus.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line, _ in zip(handle, range(count), strict=False)]


def prompt_seconds(model: UnifiedModel, text: str, round_no: int) -> float:
    # A new first word each time: the saved opening of the previous prompt must not apply.
    messages = [ChatMessage("user", f"Round {round_no}. Answer from the sources.\n\n{text}")]
    started = time.perf_counter()
    for _ in model.chat_stream(messages, GenerationSettings(max_tokens=1, temperature=0.0)):
        break
    return time.perf_counter() - started


def ms_per_token(model: UnifiedModel, round_no: int) -> float:
    messages = [ChatMessage("user", f"{round_no}. Write a long story about a lighthouse.")]
    settings = GenerationSettings(max_tokens=64, temperature=0.0, repeat_penalty=1.0)
    pieces, first = 0, 0.0
    for _ in model.chat_stream(messages, settings):
        pieces += 1
        if pieces == 1:
            first = time.perf_counter()
    return (time.perf_counter() - first) * 1000 / max(pieces - 1, 1)


def embed_seconds(model: UnifiedModel, texts: list[str]) -> float:
    started = time.perf_counter()
    model.embed_documents(texts)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        original_path = default_model_path(Path(scratch) / "models")
        made = time.perf_counter()
        prepared_path = prepared_weights(original_path, Path(scratch) / "cache")
        print(f"prepared copy written in {time.perf_counter() - made:.2f} s "
              f"({original_path.stat().st_size / 1e6:.0f} MB -> "
              f"{prepared_path.stat().st_size / 1e6:.0f} MB)")
        sides = {"original": UnifiedModel.load(original_path, embed_batch_tokens=384),
                 "prepared": UnifiedModel.load(prepared_path, embed_batch_tokens=384)}
        texts = passages(max(args.rounds * EMBED_TEXTS, 40))
        words = "\n\n".join(texts[:40]).split()
        while sides["original"].count_tokens(" ".join(words)) > PROMPT_TOKENS:
            words = words[: int(len(words) * 0.9)]
        prompt = " ".join(words)
        results: dict[str, dict[str, list[float]]] = {
            name: {"prompt s": [], "write ms/token": [], "embed s": []} for name in sides}
        for round_no in range(args.rounds):
            batch = texts[round_no * EMBED_TEXTS: (round_no + 1) * EMBED_TEXTS]
            order = list(sides.items())
            for name, model in order if round_no % 2 == 0 else reversed(order):
                results[name]["prompt s"].append(prompt_seconds(model, prompt, round_no))
                results[name]["write ms/token"].append(ms_per_token(model, round_no))
                results[name]["embed s"].append(embed_seconds(model, batch))
        for model in sides.values():
            model.close()

    print(f"{args.rounds} rounds; prompt of at most {PROMPT_TOKENS} tokens; "
          f"{EMBED_TEXTS} abstracts embedded per round")
    for measure, before in results["original"].items():
        after = results["prepared"][measure]
        ratios = [b / a for a, b in zip(before, after, strict=True)]
        low, _, high = statistics.quantiles(ratios, n=4)
        print(f"{measure:15} original {statistics.median(before):7.3f}  prepared "
              f"{statistics.median(after):7.3f}  ratio {statistics.median(ratios):.3f} "
              f"(quartiles {low:.3f}-{high:.3f})")


if __name__ == "__main__":
    main()
