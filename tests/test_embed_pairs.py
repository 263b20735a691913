"""wordot.embed.embed_pairs: both sides of parallel pairs, as embed_words gives them, no graph."""

import pytest
import torch

from wordot import data
from wordot.embed import EmbedConfig, embed_pairs, embed_words
from wordot.models import load_encoder


@pytest.fixture(scope="module")
def tiny():
    model, tok = load_encoder("tiny")
    return model.eval(), tok


@pytest.mark.parametrize("cfg", [EmbedConfig(), EmbedConfig(pooling="subword", max_length=16)])
def test_embed_pairs_is_embed_words_on_each_side(tiny, cfg):
    model, tok = tiny
    pairs = list(data.smoke_corpus("de"))[:3]
    src, en = embed_pairs(model, tok, pairs, "de", cfg)
    with torch.no_grad():
        src1 = embed_words(model, tok, [s for s, _ in pairs], "de", cfg)
        en1 = embed_words(model, tok, [e for _, e in pairs], "en", cfg)
    for got, want in ((src, src1), (en, en1)):
        assert torch.equal(got.vectors, want.vectors) and torch.equal(got.mask, want.mask)
        assert got.words == want.words and got.vectors.shape[0] == len(pairs)
        assert not got.vectors.requires_grad


def test_embed_pairs_names_an_empty_batch(tiny):
    model, tok = tiny
    with pytest.raises(ValueError, match="no fr-en pairs given"):
        embed_pairs(model, tok, [], "fr")
