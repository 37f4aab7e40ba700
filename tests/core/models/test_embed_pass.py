"""One embedding pass holds what a chunk needs and no more: each pass token costs a decoder
about 1 MB of memory, and a pass of one chunk embeds as fast as a pass of two."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import AppPaths, Settings
from core.services import EMBED_CONTEXT_ALLOWANCE, embed_pass_tokens, load_default_or_chosen_model


def test_the_pass_follows_the_chunk_size_and_late_chunking() -> None:
    assert embed_pass_tokens(Settings()) == Settings().chunk_tokens + EMBED_CONTEXT_ALLOWANCE
    assert embed_pass_tokens(Settings(chunk_tokens=512)) == 512 + EMBED_CONTEXT_ALLOWANCE
    # Late chunking embeds windows of several chunks in one pass.
    assert embed_pass_tokens(Settings(late_chunking=True)) >= 2 * Settings().chunk_tokens


@pytest.mark.model
def test_the_loaded_model_embeds_a_whole_chunk_with_its_title(default_gguf: Path,
                                                              tmp_path: Path) -> None:
    settings = Settings(model_path=str(default_gguf))
    model = load_default_or_chosen_model(settings, AppPaths.resolve(tmp_path / "home"))
    try:
        assert model.embed_max_tokens == embed_pass_tokens(settings)
        title = "Quarterly report > Liquidity and capital resources"
        chunk = " ".join(["cash"] * (settings.chunk_tokens - 2))
        assert model.count_tokens(f"{title}\n{chunk}") < model.embed_max_tokens - 8
    finally:
        model.close()
