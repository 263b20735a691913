"""Cao et al. (2020)'s L2 alignment as a training objective of the same loop as WordOT: the term
against a hand computation, gradients only through the tuned side, links mapped onto the
encoder's points, the loss falls, Cao's optimiser settings (warm-up) survive a resume."""

import pytest
import torch
from support import interrupt_training, tiny_train_config

from wordot import train
from wordot.embed import EmbedConfig, WordEmbeddings, embed_words
from wordot.loss import LossConfig, l2_language_loss, linked_pair_loss
from wordot.models import load_encoder
from wordot.train import loop

pytest.importorskip("thot", reason="sil-thot (the statistical aligners) is not installed")
pytestmark = pytest.mark.usefixtures("one_thread")


def _emb(vectors, lengths):
    B, N, _ = vectors.shape
    mask = torch.arange(N)[None, :] < torch.tensor(lengths)[:, None]
    return WordEmbeddings(vectors * mask[..., None], mask, [["w"] * n for n in lengths])


def test_linked_pair_loss_is_the_mean_squared_distance_of_the_linked_words():
    torch.manual_seed(0)
    src = _emb(torch.randn(2, 4, 3, requires_grad=True), [4, 2])
    en0 = _emb(torch.randn(2, 5, 3), [3, 5])
    links = [[(0, 2), (3, 0)], [(1, 4)]]
    got = linked_pair_loss(src, en0, links)
    pairs = [(src.vectors[0, 0], en0.vectors[0, 2]), (src.vectors[0, 3], en0.vectors[0, 0])]
    pairs.append((src.vectors[1, 1], en0.vectors[1, 4]))
    want = sum(((a - b) ** 2).sum() for a, b in pairs) / 3
    assert torch.allclose(got, want)


def test_only_the_linked_source_words_get_gradients():
    torch.manual_seed(0)
    leaf = torch.randn(2, 4, 3, requires_grad=True)
    src = WordEmbeddings(leaf, torch.ones(2, 4, dtype=torch.bool), [["w"] * 4] * 2)
    en0 = _emb(torch.randn(2, 4, 3), [4, 4])
    linked_pair_loss(src, en0, [[(1, 1)], [(2, 0), (0, 3)]]).backward()
    touched = leaf.grad.abs().sum(-1) > 0
    assert touched.tolist() == [[False, True, False, False], [True, False, True, False]]


def test_no_link_gives_zero_and_a_bad_link_is_named():
    src = _emb(torch.randn(1, 3, 2, requires_grad=True), [2])
    en0 = _emb(torch.randn(1, 3, 2), [3])
    zero = linked_pair_loss(src, en0, [[]])
    assert zero.item() == 0.0 and zero.requires_grad
    with pytest.raises(ValueError, match="a link points at padding"):
        linked_pair_loss(src, en0, [[(2, 0)]])  # source word 2 is padding
    with pytest.raises(ValueError, match="2 rows of links for a batch of 1"):
        linked_pair_loss(src, en0, [[], []])


def test_the_language_loss_adds_the_drift_of_the_english_side():
    torch.manual_seed(1)
    src, en, en0 = (_emb(torch.randn(1, 3, 2), [3]) for _ in range(3))
    parts = l2_language_loss(src, en, en0, [[(0, 0)]], LossConfig(lam=0.5), lang="de")
    drift = ((en.vectors - en0.vectors) ** 2).sum(-1).mean()
    align = ((src.vectors[0, 0] - en0.vectors[0, 0]) ** 2).sum()
    assert torch.allclose(parts.total, align + 0.5 * drift)
    assert set(parts.ot) == set(parts.reg) == {"de"}


def _cfg(**kw):
    return tiny_train_config(**({"loss": LossConfig(lam=1.0)} | L2 | kw))


L2 = {"objective": "l2", "aligner": "fast_align"}


def test_word_links_index_the_moses_words_of_every_training_pair(corpora, tmp_path, monkeypatch):
    monkeypatch.setenv("WORDOT_CACHE", str(tmp_path))
    links = loop.word_links(_cfg(), corpora)
    assert set(links) == {"de", "fr"}
    for lang, corpus in corpora.items():
        assert set(links[lang]) == set(zip(corpus.src, corpus.en, strict=True))
    assert sum(len(v) for v in links["de"].values()) > len(corpora["de"].src)


def test_the_l2_run_lowers_its_loss_and_moves_the_source_words(corpora, tmp_path, monkeypatch):
    monkeypatch.setenv("WORDOT_CACHE", str(tmp_path / "cache"))
    cfg = _cfg(max_steps=12, epochs=2, lr=1e-2)
    summary = train.train(cfg, corpora, tmp_path / "run", progress=False)
    log = train.read_log(tmp_path / "run")
    first = sum(r["ot/de"] + r["ot/fr"] for r in log[:3]) / 3
    last = sum(r["ot/de"] + r["ot/fr"] for r in log[-3:]) / 3
    assert last < 0.7 * first, (first, last)  # the alignment term falls
    assert log[0]["reg/de"] == 0.0 and log[-1]["reg/de"] > 0  # English drifts from zero
    assert summary["steps"] == 12
    # the tuned model's German vectors of the first pair are closer to the frozen English ones
    model0, tok = load_encoder("tiny")
    tuned, _ = load_encoder(str(tmp_path / "run" / "model"))
    links = loop.word_links(cfg, corpora)["de"]
    pair = (corpora["de"].src[0], corpora["de"].en[0])
    emb = EmbedConfig()
    with torch.no_grad():
        e0 = embed_words(model0, tok, [pair[1]], "en", emb).vectors[0]
        before = embed_words(model0, tok, [pair[0]], "de", emb).vectors[0]
        after = embed_words(tuned, tok, [pair[0]], "de", emb).vectors[0]
    i, j = zip(*links[pair], strict=True)
    d0 = ((before[list(i)] - e0[list(j)]) ** 2).sum(-1).mean()
    d1 = ((after[list(i)] - e0[list(j)]) ** 2).sum(-1).mean()
    assert d1 < d0, (d0, d1)


def test_warmup_raises_the_rate_linearly_and_a_resume_keeps_it(corpora, tmp_path, monkeypatch):
    monkeypatch.setenv("WORDOT_CACHE", str(tmp_path / "cache"))
    cfg = _cfg(max_steps=6, warmup=0.5, adam_betas=(0.9, 0.98), adam_eps=1e-9, checkpoint_every=1)
    train.train(cfg, corpora, tmp_path / "full", progress=False)
    lrs = [r["lr"] for r in train.read_log(tmp_path / "full")]
    assert lrs == pytest.approx([1e-3, 2e-3, 3e-3, 3e-3, 3e-3, 3e-3])  # 3 warm-up updates
    real = loop._group_loss
    interrupt_training(monkeypatch, 2 * len(cfg.languages))  # die in step 3
    with pytest.raises(KeyboardInterrupt):
        train.train(cfg, corpora, tmp_path / "cut", progress=False)
    monkeypatch.setattr(loop, "_group_loss", real)
    summary = train.train(cfg, corpora, tmp_path / "cut", resume=True, progress=False)
    assert summary["resumed_from"] == 2
    assert [r["lr"] for r in train.read_log(tmp_path / "cut")] == pytest.approx(lrs)
    full, _ = load_encoder(str(tmp_path / "full" / "model"))
    cut, _ = load_encoder(str(tmp_path / "cut" / "model"))
    assert all(torch.equal(a, b) for a, b in zip(full.parameters(), cut.parameters(), strict=True))


def test_bad_objective_settings_are_refused(corpora):
    with pytest.raises(ValueError, match="objective='ot'; choose one of"):
        _cfg(objective="ot")
    with pytest.raises(ValueError, match="aligner='giza'"):
        _cfg(aligner="giza")
    with pytest.raises(ValueError, match="adam_betas"):
        _cfg(adam_betas=(0.9, 1.5))
    with pytest.raises(ValueError, match="warmup=1.0"):
        _cfg(warmup=1.0)
