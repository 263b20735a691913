"""Aligned word pairs for the neighbours: one-to-one links from a statistical aligner, cached,
and the contextual vectors of both words of every link."""

import pytest
import torch

from wordot import embed
from wordot.data import smoke_corpus
from wordot.models.tiny import tiny_encoder
from wordot.neighbours import pairs as P

pytest.importorskip("thot", reason="sil-thot (the statistical aligners) is not installed")


def test_one_to_one_drops_every_word_in_two_links():
    links = {(0, 0), (1, 1), (1, 2), (3, 3), (4, 3), (5, 5)}
    assert P.one_to_one(links) == [(0, 0), (5, 5)]


@pytest.fixture(scope="module")
def corpus():
    c = smoke_corpus("de")
    return list(zip(c.src, c.en, strict=True))


def test_align_corpus_links_translations_and_reads_its_cache(corpus, tmp_path, monkeypatch):
    wp = P.align_corpus(corpus, "de", method="fast_align", cache=tmp_path)
    assert len(wp.words) == len(corpus) == len(wp.links)
    assert wp.n_links > len(corpus)  # more than one link per sentence on average
    for (src, en), links in zip(wp.words, wp.links, strict=True):
        assert links == P.one_to_one(links)  # one-to-one and sorted
        assert all(0 <= i < len(src) and 0 <= j < len(en) for i, j in links)
    assert sum(1 for row in wp.links if not row) == wp.skipped.get("no link", 0)
    # the shared vocabulary links correctly: "Berlin" and sentence-final punctuation
    found = set(wp.word_pairs())
    assert ("Berlin", "Berlin") in found and (".", ".") in found
    # a second call reads the file: the aligner is not run again
    monkeypatch.setattr(P, "align_statistical", lambda *a, **k: pytest.fail("aligned again"))
    again = P.align_corpus(corpus, "de", method="fast_align", cache=tmp_path)
    assert again == wp
    assert len(list((tmp_path / "aligned-pairs").glob("de-fast_align-*.json"))) == 1


def test_align_corpus_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="unknown statistical aligner 'giza'"):
        P.align_corpus([("a", "b")], "de", method="giza", cache=tmp_path)
    with pytest.raises(ValueError, match="no de-en sentence pairs to align"):
        P.align_corpus([], "de", cache=tmp_path)
    with pytest.raises(embed.SentenceError, match="de"):
        P.align_corpus([("...", "The house.")], "de", cache=tmp_path)


def test_a_corpus_without_links_is_an_error(tmp_path, monkeypatch):
    class NoLinks:
        links = [set(), set()]
        seconds = 0.0

    monkeypatch.setattr(P, "align_statistical", lambda *a, **k: NoLinks())
    with pytest.raises(ValueError, match="found no one-to-one link in 2 de-en sentence pairs"):
        P.align_corpus([("Haus", "house"), ("Baum", "tree")], "de", cache=tmp_path)


def test_pair_vectors_are_the_mean_subword_vectors_of_the_linked_words(
    corpus, tmp_path, one_thread
):
    model, tok = tiny_encoder()
    wp = P.align_corpus(corpus[:12], "de", method="fast_align", cache=tmp_path)
    out = P.pair_vectors(model, tok, wp, layers=(1, -1), batch_size=5)
    n = wp.n_links  # the tiny tokenizer represents every word of the smoke corpus
    for layer in (1, -1):
        src, en = out[layer]
        assert src.shape == en.shape == (n, model.config.hidden_size)
        assert src.dtype == torch.float32 and torch.isfinite(src).all()
    # oracle: embed_words with mean pooling at the last layer, sentence by sentence, in the
    # order pair_vectors uses (sentences sorted by source length, links in order)
    order = sorted(range(len(wp.words)), key=lambda k: len(wp.words[k][0]))
    cfg = embed.EmbedConfig(pooling="mean", layer=-1)
    expected_src, expected_en = [], []
    with torch.no_grad():
        for k in order:
            if not wp.links[k]:
                continue
            s = embed.embed_words(model, tok, [corpus[k][0]], "de", cfg).vectors[0]
            e = embed.embed_words(model, tok, [corpus[k][1]], "en", cfg).vectors[0]
            expected_src += [s[i] for i, _ in wp.links[k]]
            expected_en += [e[j] for _, j in wp.links[k]]
    # padding to another length changes float sums slightly: measured ~1e-6
    torch.testing.assert_close(out[-1][0], torch.stack(expected_src), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out[-1][1], torch.stack(expected_en), atol=1e-4, rtol=1e-4)
