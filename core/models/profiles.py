"""The model profiles (how each kind of model embeds and how much search trusts it) and the
rule that picks one. Kept apart from ``llama/gguf_info.py`` so that checking a file's header
does not load llama.cpp.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, fields, replace

from core.models.embed_head import HeadFusion, head_by_tag, head_for
from core.models.interface import ModelProfile

# GritLM / EGTLM style: trained to embed, so bidirectional attention and a mean over the text
# tokens only (the instruction and format tokens are read but not pooled).
GRIT = ModelProfile(
    name="grit",
    pooling="mean",
    causal=False,
    query_instruction="Given a question, retrieve passages that answer it",
    document_prefix="<|embed|>\n",
    query_prefix="<|user|>\n{instruction}\n<|embed|>\n",
    dense_weight=1.0,
    text_tokens_only=True,
)

# Any decoder never trained for embeddings (gemma-3-270m, the default). Causal attention
# (bidirectional reads worse), the mean of the text's rows at 8/9 of the depth (a decoder's last
# blocks serve next-token prediction; the late-middle ones hold more meaning), centred on the
# model's common direction (raw decoder vectors all point one way): the best zero-shot recipe
# measured (bench/embed_tricks.py). Alone it still ranks below BM25, so it re-orders the
# keyword hits and adds at most 10 of its own; and since it is right on some queries and lost
# on others, its weight (at most 0.5) follows each query's agreement with the keywords on which
# files matter, where a fixed weight fell below BM25 on claims the keywords match well
# (docs/benchmarks.md, hybrid against keywords alone).
GENERIC = ModelProfile(name="generic", pooling="mean", causal=True, embed_depth=0.89,
                       centred=True, dense_weight=0.5, dense_only=10, weight_by_agreement=True)

# BERT-family sentence encoders (all-MiniLM and friends): embeddings only, the model's own
# pooling. Trained for the job, they rank above BM25 alone, so meaning weighs as much as the
# keywords (docs/benchmarks.md, hybrid against keywords alone).
ENCODER = ModelProfile(name="encoder", pooling="model", causal=False, dense_weight=1.0,
                       chats=False)

# Encoders trained with task prefixes, which their model cards say must be given
# (nomic-embed-text: "search_document: " and "search_query: "). Architecture -> (document, query).
_ENCODER_TASK_PREFIXES = {"nomic-bert": ("search_document: ", "search_query: ")}


# GritLM-7B's tokenizer has no `<|embed|>` token (it spells the format tag in ordinary
# pieces), so a GGUF of it is known by its name: general.name, general.basename or the file's.
_GRIT_FAMILY_NAMES = re.compile(r"grit[\s_-]*lm|egtlm", re.IGNORECASE)


def is_grit_style(has_embed_token: bool, names: Iterable[str | None]) -> bool:
    """Trained GRIT-style (to embed and to chat): `<|embed|>` is one of its tokens, or its
    names say it is a GritLM-family model."""
    return has_embed_token or any(_GRIT_FAMILY_NAMES.search(name or "") for name in names)


def profile_for(grit_style: bool, causal_attention: bool, architecture: str = "") -> ModelProfile:
    """The one rule, whether the facts come from a loaded model or from a file's header."""
    if grit_style:
        return GRIT
    if not causal_attention:
        if architecture in _ENCODER_TASK_PREFIXES:
            document, query = _ENCODER_TASK_PREFIXES[architecture]
            return replace(ENCODER, document_prefix=document, query_prefix=query)
        return ENCODER
    return GENERIC


def with_trained_head(profile: ModelProfile, fingerprint: str, *,
                      asked: bool = False) -> ModelProfile:
    """``profile`` with the trained head Kenning ships for the GGUF of ``fingerprint``, if there
    is one on by default (or any, when ``asked``): the head reads its own block and replaces the
    centring, and its own fusion with the keywords when it has one. Only the zero-shot profile
    takes one; models trained to embed keep their own."""
    spec = head_for(fingerprint, asked=asked)
    if spec is None or profile.name != GENERIC.name:
        return profile
    trained = replace(profile, embed_head=spec.tag, embed_layer=spec.layer, centred=False)
    if spec.fusion is None:
        return trained
    return replace(trained, **asdict(spec.fusion))


def without_trained_head(profile: ModelProfile) -> ModelProfile:
    """``profile`` embedding from the last layer, for a llama.cpp build that cannot read inner
    blocks: a trained head has nothing to read there, so it goes, and with it its fusion."""
    plain = replace(profile, embed_layer=-1, embed_head="")
    if not profile.embed_head:
        return plain
    return replace(plain, **{f.name: getattr(GENERIC, f.name) for f in fields(HeadFusion)})


#: How each profile's models embed, in a user's words: a model trained to embed, or the
#: zero-shot recipe a decoder never trained for it gets unless Kenning ships a trained head
#: for that very file and turns it on (``with_trained_head``; the bundled model has one, off by
#: default: docs/models.md).
_EMBED_RECIPES = {
    GRIT.name: ("trained", "trained (GritLM-style: one model embeds and answers)"),
    ENCODER.name: ("trained", "trained (a sentence encoder)"),
    GENERIC.name: ("zero-shot", "zero-shot recipe (the mean of an inner layer, centred); no "
                                "trained embed mode exists for this model, so search leans on "
                                "keywords"),
}


def embed_recipe(profile_name: str, head_tag: str = "") -> tuple[str, str]:
    """("trained" or "zero-shot", and how the models of ``profile_name`` embed, in a user's
    words); ``head_tag`` names the trained head the model gets, if any."""
    spec = head_by_tag(head_tag) if head_tag else None
    if spec is not None and profile_name == GENERIC.name:
        return ("trained", f"trained for this model ({spec.description}), combined with "
                           "keywords")
    return _EMBED_RECIPES.get(profile_name, ("zero-shot", "zero-shot recipe"))
