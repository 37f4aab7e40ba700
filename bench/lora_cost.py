"""What training a LoRA adapter for gemma-3-270m costs on this machine (the next rung for the
reader and for the embed mode, docs/models.md): tokens a second through the model dequantised
from its GGUF, forward alone (the baseline) and forward + backward + an optimiser step with a
rank-``--rank`` adapter on every block's projections, three ways:

- ``full``: every position through the output layer (262k-word vocabulary), as a language
  model is usually tuned;
- ``reader``: the output layer only at the last ``--question`` tokens, which is all the reader
  scores (how likely the question is after the sentence);
- ``body``: no output layer, a loss on the last hidden state, as an embed adapter trains.

Needs torch, transformers, gguf and peft, which Kenning itself does not: install them in a
venv of their own (on this machine torch 2.13.0 is a CPU build on disk)::

    python3 -m venv /tmp/lora && /tmp/lora/bin/pip install torch==2.13.0 && \\
        /tmp/lora/bin/pip install transformers gguf peft
    /tmp/lora/bin/python bench/lora_cost.py ~/.local/share/Kenning/models/gemma-3-270m-q4_k_m.gguf
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import gguf
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.models.llama.lora_file import write_lora  # noqa: E402

PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def adapted(gguf: Path, rank: int) -> PeftModel:
    """The GGUF's model dequantised into torch (float32), with a fresh rank-``rank`` LoRA
    adapter on every block's projections (the only weights that train)."""
    base = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                dtype=torch.float32)
    return get_peft_model(base, LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0,
                                           target_modules=PROJECTIONS))


def export_gguf(model: PeftModel, architecture: str, path: Path) -> int:
    """Write the adapter as a GGUF LoRA llama.cpp loads (``core.models.llama.lora_file``),
    each pair named after the GGUF weight it adapts (the ``gguf`` package's own map from
    transformers' names). Returns the number of weights adapted."""
    arch = next(a for a, name in gguf.MODEL_ARCH_NAMES.items() if name == architecture)
    names = gguf.get_tensor_name_map(arch, model.config.num_hidden_layers)
    pairs = {}
    for name, module in model.base_model.model.named_modules():
        # blocks a ``layers_to_transform`` adapter leaves alone keep plain projections
        if name.rsplit(".", 1)[-1] in PROJECTIONS and hasattr(module, "lora_A"):
            pairs[names.get_name(f"{name}.weight", try_suffixes=(".weight",))] = (
                module.lora_A["default"].weight.detach().to(torch.float32).numpy(),
                module.lora_B["default"].weight.detach().to(torch.float32).numpy())
    write_lora(path, architecture, model.peft_config["default"].lora_alpha, pairs)
    return len(pairs)


def tokens_per_second(step: Callable[[], None], tokens: int, repeats: int) -> float:
    step()  # the first pass allocates; it is not timed
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return repeats * tokens / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("gguf", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--length", type=int, default=160, help="tokens a sequence")
    parser.add_argument("--question", type=int, default=14, help="tokens the reader scores")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    start = time.perf_counter()
    model = adapted(args.gguf, args.rank)
    trainable = [p for p in model.parameters() if p.requires_grad]
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    print(f"loaded and dequantised in {time.perf_counter() - start:.1f} s, "
          f"{frozen / 1e6:.0f}M parameters")
    print(f"adapter: rank {args.rank} on {len(PROJECTIONS)} projections of every block, "
          f"{sum(p.numel() for p in trainable) / 1e6:.2f}M parameters")
    optimiser = torch.optim.AdamW(trainable, lr=1e-4)
    ids = torch.randint(1000, 20000, (args.batch, args.length))
    tokens = args.batch * args.length
    body = model.base_model.model.model
    output = model.base_model.model.lm_head

    def forward() -> None:
        with torch.no_grad():
            model(input_ids=ids)

    def train(loss: Callable[[], torch.Tensor]) -> Callable[[], None]:
        def step() -> None:
            loss().backward()
            optimiser.step()
            optimiser.zero_grad()
        return step

    def full() -> torch.Tensor:
        return model(input_ids=ids, labels=ids).loss

    def reader() -> torch.Tensor:
        hidden = body(input_ids=ids).last_hidden_state[:, -args.question - 1: -1]
        logits = output(hidden)
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                 ids[:, -args.question:].reshape(-1))

    def embed() -> torch.Tensor:
        return body(input_ids=ids).last_hidden_state.mean(dim=1).pow(2).sum()

    model.eval()
    print(f"forward alone (baseline): {tokens_per_second(forward, tokens, args.repeats):.0f} "
          f"tokens/s")
    model.train()
    for name, loss in (("full", full), ("reader", reader), ("body", embed)):
        rate = tokens_per_second(train(loss), tokens, args.repeats)
        print(f"training step, {name}: {rate:.0f} tokens/s")


if __name__ == "__main__":
    main()
