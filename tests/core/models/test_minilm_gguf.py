"""The all-MiniLM-L6-v2 GGUF built by bench/minilm_gguf.py runs in llama.cpp as the original
model: same tokens, same vectors (against a numpy forward pass over the same safetensors)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.models.check import check_model
from core.models.interface import ChatMessage
from core.models.llama.unified import UnifiedModel

pytestmark = pytest.mark.model

SENTENCES = [
    "The tenant must give sixty days written notice before leaving the flat.",
    "A renter has to tell the landlord two months ahead before moving out.",
    "Tomatoes need full sun and regular watering in summer.",
    "Naïve café owners in Zürich don't like the new rules (really!).",
    "Wind tunnel tests showed the boundary layer separating near the trailing edge; "
    "the heat transfer coefficient rose with the flow velocity over the plate. " * 4,
    "x",
]


@pytest.fixture(scope="module")
def minilm(minilm_gguf: Path):
    model = UnifiedModel.load(minilm_gguf, n_threads=2)
    yield model
    model.close()


@pytest.fixture(scope="module")
def reference():
    from tests.minilm import ReferenceMiniLM

    return ReferenceMiniLM()


@pytest.fixture(scope="module")
def reference_vectors(reference) -> np.ndarray:
    return reference.embed(SENTENCES)


def test_the_file_is_a_bert_encoder_kenning_accepts(minilm_gguf: Path) -> None:
    report = check_model(minilm_gguf)
    assert (report.architecture, report.profile, report.context_length) == ("bert", "encoder", 512)
    assert report.name == "all-MiniLM-L6-v2"


def test_llama_cpp_loads_it_with_the_encoder_profile(minilm) -> None:
    assert minilm.profile.name == "encoder"
    assert minilm.dim == 384
    assert minilm.model_id.startswith("all-minilm-l6-v2-f32.gguf:")
    assert minilm.model_id.endswith(":encoder-model-bidir-r1")


def test_tokens_match_the_reference_wordpiece(minilm, reference) -> None:
    from core.models.llama.bindings import tokenize

    for text in SENTENCES:
        # count_tokens leaves out [CLS] and [SEP]; the reference includes them.
        assert minilm.count_tokens(text) == len(reference.token_ids(text)) - 2
    vocab = minilm._vocab  # the loaded vocabulary, to compare ids one by one
    for text in SENTENCES[:4]:
        assert tokenize(vocab, text, add_special=True, parse_special=False) == \
            reference.token_ids(text)


def test_vectors_match_the_original_model(minilm, reference_vectors) -> None:
    ours = minilm.embed_documents(SENTENCES)
    cosines = (ours * reference_vectors).sum(axis=1)
    assert cosines.min() > 0.999, cosines
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)


def test_a_query_finds_its_paraphrase(minilm) -> None:
    query = minilm.embed_query("how much notice do I give before moving out")
    documents = minilm.embed_documents(SENTENCES[:3])
    scores = documents @ query
    assert scores[1] > scores[2] and scores[0] > scores[2]
    lease, renter, garden = documents
    assert float(lease @ renter) > float(lease @ garden) + 0.2


def test_chat_is_refused_in_plain_words(minilm) -> None:
    with pytest.raises(RuntimeError, match="embedding-only model and cannot write answers"):
        list(minilm.chat_stream([ChatMessage("user", "Hello")]))



def test_the_q8_0_build_is_a_quarter_of_the_size_and_still_close(minilm_gguf,
                                                                  reference_vectors,
                                                                  tmp_path) -> None:
    from tests.minilm import build_or_skip

    quantized = build_or_skip(tmp_path, outtype="q8_0")
    report = check_model(quantized)
    assert report.quantization == "Q8_0" and report.profile == "encoder"
    assert report.size_bytes < 0.3 * minilm_gguf.stat().st_size
    with UnifiedModel.load(quantized, n_threads=2) as model:
        cosines = (model.embed_documents(SENTENCES) * reference_vectors).sum(axis=1)
    assert cosines.min() > 0.995, cosines
