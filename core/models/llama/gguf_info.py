"""What a loaded GGUF is, read from its own metadata and vocabulary: which profile it gets,
how its chat prompt is written and where a reply ends, and a fingerprint naming its weights.

Everything here works on a ``llama_model`` pointer that ``unified`` loaded; nothing
loads weights itself.

>>> GENERIC.name, GRIT.causal
('generic', False)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import llama_cpp

from core.models.interface import ChatMessage, ModelProfile
from core.models.llama.bindings import apply_chat_template, tokenize
from core.models.llama.bindings import model_meta as _meta
from core.models.llama.gguf_header import file_fingerprint
from core.models.profiles import ENCODER as ENCODER
from core.models.profiles import GENERIC as GENERIC
from core.models.profiles import GRIT as GRIT
from core.models.profiles import is_grit_style, profile_for, with_trained_head

#: Bump when the embedding recipe (prefixes, pooling, attention) changes: vectors made by an
#: older recipe must not be mixed with new ones, so the recipe is part of ``model_id``.
RECIPE_VERSION = 1

# Encoder-only architectures whose GGUF may not say `attention.causal = false` explicitly.
_ENCODER_ARCHITECTURES = frozenset(
    {"bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "modern-bert", "neo-bert",
     "t5encoder", "eurobert"}
)

# Chat families, recognised by a marker in the GGUF's chat template, for their stop strings.
_FAMILY_BY_MARKER = (
    ("<start_of_turn>", "gemma"),
    ("<|im_start|>", "chatml"),
    ("<|start_header_id|>", "llama3"),
)

# Text that means the reply is over even when the model emits no end token. Base models (such
# as gemma-3-270m) often go on with a new turn in plain words instead of special tokens.
_STOPS_BY_FORMAT: dict[str, tuple[str, ...]] = {
    "gemma": ("<end_of_turn>", "<start_of_turn>", "\nuser\n", "\nmodel\n"),
    "chatml": ("<|im_end|>", "<|im_start|>"),
    "llama3": ("<|eot_id|>", "<|start_header_id|>"),
    "grit": ("<|user|>", "<|assistant|>", "<|embed|>", "</s>"),
    "plain": ("\nUser:", "\nAssistant:"),
}


@dataclass(frozen=True)
class ModelFacts:
    """The few things about a GGUF that decide how it is used."""

    file_name: str
    fingerprint: str  # short hex digest of the file's size and header
    architecture: str
    display_name: str
    n_ctx_train: int
    causal_attention: bool
    grit_style: bool  # see core.models.profiles.is_grit_style
    chat_template: str | None
    chat_format: str  # "template" (the GGUF's own), "grit" or "plain"

    def recipe(self, profile: ModelProfile) -> str:
        attention = "causal" if profile.causal else "bidir"
        layer = f"-L{profile.embed_layer}" if profile.embed_layer >= 0 else ""
        centred = "-centred" if profile.centred else ""
        head = f"-head-{profile.embed_head}" if profile.embed_head else ""
        # task prefixes change an encoder's vectors (grit's are part of its profile)
        tasks = "-tasks" if profile.pools_in_model and profile.document_prefix else ""
        return (f"{profile.name}-{profile.pooling}{layer}{centred}{head}{tasks}-{attention}"
                f"-r{RECIPE_VERSION}")

    def model_id(self, profile: ModelProfile) -> str:
        """Names weights and recipe, so stored vectors say what made them."""
        return f"{self.file_name}:{self.fingerprint}:{self.recipe(profile)}"


def read_facts(model: llama_cpp.llama_model_p, path: Path) -> ModelFacts:
    vocab = llama_cpp.llama_model_get_vocab(model)
    architecture = _meta(model, "general.architecture") or "unknown"
    causal_flag = _meta(model, f"{architecture}.attention.causal")
    causal = causal_flag != "false" and architecture not in _ENCODER_ARCHITECTURES
    template_bytes = llama_cpp.llama_model_chat_template(model, None)
    template = template_bytes.decode("utf-8", "replace") if template_bytes else None
    name = _meta(model, "general.name")
    grit_style = is_grit_style(_is_single_token(vocab, "<|embed|>"),
                               (name, _meta(model, "general.basename"), path.name))
    return ModelFacts(
        file_name=path.name,
        fingerprint=file_fingerprint(path),
        architecture=architecture,
        display_name=name or path.stem,
        n_ctx_train=llama_cpp.llama_model_n_ctx_train(model),
        causal_attention=causal,
        grit_style=grit_style,
        chat_template=template,
        chat_format=_chat_format(template, grit_style),
    )


def detect_profile(facts: ModelFacts, trained_head: bool | None = None) -> ModelProfile:
    """``trained_head``: None takes a head that is on by default, True any head Kenning has for
    the file, False none (the zero-shot recipe)."""
    profile = profile_for(facts.grit_style, facts.causal_attention, facts.architecture)
    if trained_head is False:
        return profile
    return with_trained_head(profile, facts.fingerprint, asked=bool(trained_head))


def default_stops(facts: ModelFacts) -> tuple[str, ...]:
    family = facts.chat_format
    if family == "template":
        template = facts.chat_template or ""
        family = next((name for marker, name in _FAMILY_BY_MARKER if marker in template),
                      "plain")  # unknown templates may fall back to the plain format
    return _STOPS_BY_FORMAT.get(family, ())


class StopScanner:
    """Holds back text that could be the start of a stop string split across tokens."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = stops
        self._pending = ""

    def push(self, text: str) -> tuple[str, bool]:
        """Returns the text safe to show, and whether a stop string was reached."""
        self._pending += text
        hits = [i for i in (self._pending.find(s) for s in self._stops) if i >= 0]
        if hits:
            ready, self._pending = self._pending[: min(hits)], ""
            return ready, True
        keep = max((_overlap(self._pending, s) for s in self._stops), default=0)
        cut = len(self._pending) - keep
        ready, self._pending = self._pending[:cut], self._pending[cut:]
        return ready, False

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return rest


def _overlap(text: str, stop: str) -> int:
    """Length of the longest end of ``text`` that begins ``stop``."""
    for size in range(min(len(text), len(stop) - 1), 0, -1):
        if text.endswith(stop[:size]):
            return size
    return 0


def chat_prompt(facts: ModelFacts, messages: Sequence[ChatMessage]) -> str:
    """The prompt text for ``messages``, ending where the assistant's reply begins.

    No BOS token: the tokenizer adds it, as the vocabulary asks.
    """
    if facts.chat_format == "grit":
        return _grit_prompt(messages)
    if facts.chat_format == "template" and facts.chat_template:
        rendered = apply_chat_template(facts.chat_template, [(m.role, m.content) for m in messages])
        if rendered is not None:
            return rendered
    return _plain_prompt(messages)


def _grit_prompt(messages: Sequence[ChatMessage]) -> str:
    # GritLM's chat format; it has no system turn, so a system message leads the first turn.
    parts: list[str] = []
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    for message in messages:
        if message.role == "system":
            continue
        content = message.content
        if system and message.role == "user":
            content, system = f"{system}\n\n{content}", ""
        tag = "<|assistant|>" if message.role == "assistant" else "<|user|>"
        parts.append(f"{tag}\n{content}\n")
    parts.append("<|assistant|>\n")
    return "".join(parts)


def _plain_prompt(messages: Sequence[ChatMessage]) -> str:
    names = {"system": "", "user": "User: ", "assistant": "Assistant: "}
    lines = [f"{names.get(m.role, '')}{m.content}" for m in messages]
    return "\n\n".join(lines) + "\n\nAssistant:"


def _chat_format(template: str | None, grit_style: bool) -> str:
    # A GGUF without a chat template is taken for a base model: measured on gemma-3-270m,
    # the gemma turn format made it echo the question, plain "User:/Assistant:" text made it
    # answer ("60 days notice is required.").
    if grit_style:
        return "grit"
    return "template" if template else "plain"


def _is_single_token(vocab: llama_cpp.llama_vocab_p, text: str) -> bool:
    return len(tokenize(vocab, text, add_special=False, parse_special=True)) == 1
