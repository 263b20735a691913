"""wordot.evaluation on hand-made data and the tiny random encoder (offline, seconds).

The corpora loaders are replaced by small in-memory ones (``fake_corpora``), so nothing here
needs the built cache under ~/.cache/wordot.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import Tensor

from wordot import corpora
from wordot import evaluation as E
from wordot.embed import EmbedConfig, WordEmbeddings
from wordot.evaluation import EvalSizes
from wordot.loss import LossConfig
from wordot.models import load_encoder


@pytest.fixture(scope="module")
def tiny():
    model, tok = load_encoder("tiny")
    return model.eval(), tok


def cloud(words: list[list[str]], vectors: list[Tensor]) -> WordEmbeddings:
    """Padded WordEmbeddings from per-sentence ``(n_b, D)`` tensors."""
    B, N, D = len(vectors), max(v.shape[0] for v in vectors), vectors[0].shape[1]
    V = torch.zeros(B, N, D, dtype=torch.float64)
    mask = torch.zeros(B, N, dtype=torch.bool)
    for b, v in enumerate(vectors):
        V[b, : v.shape[0]] = v
        mask[b, : v.shape[0]] = True
    return WordEmbeddings(V, mask, words, owners=[list(range(len(w))) for w in words])


SRC = ["Hund", "Katze", "Haus", "Baum", "Linux"]
EN = ["dog", "cat", "home", "tree", "Linux"]
LEXICON = {"hund": {"dog"}, "katze": {"cat"}, "haus": {"house", "building"}, "spiele": {"games"}}


# -- alignment ------------------------------------------------------------------------------


def test_argmax_links_and_mutual_intersection():
    plan = torch.tensor(
        [
            [0.5, 0.1, 0.0],  # 0 -> 0, and column 0's best row is 0: mutual
            [0.3, 0.2, 0.0],  # 1 -> 0, but column 0 prefers row 0: not mutual
            [0.0, 0.1, 0.4],  # 2 -> 2, mutual
        ]
    )
    assert E.argmax_links(plan) == [(0, 0), (1, 0), (2, 2)]
    assert E.argmax_links(plan, mutual=True) == [(0, 0), (2, 2)]
    with pytest.raises(ValueError, match="non-empty"):
        E.argmax_links(torch.zeros(0, 3))


def test_identical_clouds_give_diagonal_links_and_a_permutation_is_recovered():
    torch.manual_seed(0)
    x = 3.0 * torch.randn(5, 8, dtype=torch.float64)
    perm = [2, 0, 4, 1, 3]  # English word j = source word perm[j]
    src = cloud([SRC, SRC[:3]], [x, x[:3]])
    en = cloud([EN, ["a", "b", "c", "d", "e"]], [x, x[perm]])
    fwd, mutual = E.word_links(src, en, LossConfig(eps=0.05, cost="euclidean"))
    assert fwd[0] == mutual[0] == [(i, i) for i in range(5)]
    # source word i sits at English position perm.index(i)
    assert fwd[1] == [(i, perm.index(i)) for i in range(3)]
    assert mutual[1] == fwd[1]  # English words 3, 4 have no source twin; they are not linked


def test_subword_plans_are_aligned_per_word_by_mass_density():
    # English word A has three subword points far right, B one point at the origin; source
    # word w1 sits on B, w2 on A. w1 must ship 1/2 of mass but B holds only 1/4, so w1 sends
    # 1/4 to B and 1/4 to A: by summed mass a tie, by density (P_ij / (a_i b_j)) clearly B.
    en = WordEmbeddings(
        torch.tensor([[[10.0, 0.0], [10.0, 1.0], [11.0, 0.0], [0.0, 0.0]]], dtype=torch.float64),
        torch.ones(1, 4, dtype=torch.bool),
        [["A1", "A2", "A3", "B"]],
        owners=[[0, 0, 0, 1]],
    )
    src = WordEmbeddings(
        torch.tensor([[[0.0, 0.0], [10.3, 0.3]]], dtype=torch.float64),
        torch.ones(1, 2, dtype=torch.bool),
        [["w1", "w2"]],
        owners=[[0, 1]],
    )
    kw = {"src_words": [["w1", "w2"]], "en_words": [["A", "B"]]}
    fwd, mutual = E.word_links(src, en, LossConfig(eps=0.5, cost="euclidean"), **kw)
    assert fwd == [[(0, 1), (1, 0)]] and mutual == fwd
    with pytest.raises(ValueError, match="word-level plans need"):
        E.word_links(src, en, LossConfig(eps=0.01), src_words=[["w1", "w2"]])


def test_precision_k_of_n_identical_ignored_unknown_unscored():
    links = [(i, i) for i in range(5)]
    c = E.score_links(links, SRC, EN, LEXICON, "de")
    # Hund-dog, Katze-cat correct; Haus-home wrong; Baum not in the lexicon; Linux identical
    assert (c.links, c.identical, c.unscored, c.scored, c.correct) == (5, 1, 1, 3, 2)
    assert c.precision == pytest.approx(2 / 3)
    assert c.coverage == pytest.approx(3 / 4)
    total = c + c
    assert (total.scored, total.correct, total.precision) == (6, 4, pytest.approx(2 / 3))
    none = E.score_links([(4, 4)], SRC, EN, LEXICON, "de")
    assert none.precision is None and none.coverage is None and none.identical == 1


def test_lexicon_match_normalisations():
    assert E.lexicon_match("HUND", "Dog", LEXICON, "de") is True  # case
    assert E.lexicon_match("Spiele", "game", LEXICON, "de") is True  # games ~ game
    assert E.lexicon_match("Katze", "cats", LEXICON, "de") is True
    assert E.lexicon_match("Haus", "houses", LEXICON, "de") is True
    assert E.lexicon_match("Haus", "dog", LEXICON, "de") is False
    assert E.lexicon_match("Baum", "tree", LEXICON, "de") is None
    assert E.lexicon_match("d\u2019eau", "water", {"d'eau": {"water"}}, "fr") is True
    assert E.lexicon_match("IŞIK", "light", {"ışık": {"light"}}, "tr") is True  # Turkish I


def test_end_to_end_identical_sentences_are_all_identical_links(tiny):
    model, tok = tiny
    pairs = [("the cat sat on the mat", "the cat sat on the mat"), ("a dog ran", "a dog ran")]
    plan = LossConfig(eps=0.01, cost="euclidean")
    kw = {"lexicon": LEXICON, "progress": False}
    out = E.alignment_precision(model, tok, pairs, "de", plan, **kw)
    assert out["links"] == 6 + 3 and out["identical"] == 9
    assert out["scored"] == 0 and out["precision"] is None and out["pairs"] == 2
    sub = E.alignment_precision(model, tok, pairs, "de", plan, EmbedConfig(pooling="subword"), **kw)
    assert sub["links"] == 9 and sub["identical"] == 9  # one link per word, not per subword


def test_end_to_end_scores_a_lexicon(tiny):
    model, tok = tiny
    pairs = [("Hund Katze", "dog cat")]
    lex = {"hund": {"dog", "cat"}, "katze": {"dog", "cat"}}  # whatever the plan, all correct
    plan = LossConfig(eps=0.05, cost="sqeuclidean")
    out = E.alignment_precision(model, tok, pairs, "de", plan, lexicon=lex, progress=False)
    assert (out["scored"], out["correct"], out["precision"], out["coverage"]) == (2, 2, 1.0, 1.0)
    assert out["scored_mutual"] <= 2 and out["precision_mutual"] == 1.0


def test_alignment_errors(tiny):
    model, tok = tiny
    plan = LossConfig(eps=0.05, cost="euclidean")
    kw = {"lexicon": LEXICON, "progress": False}
    with pytest.raises(ValueError, match="no pairs"):
        E.alignment_precision(model, tok, [], "de", plan, **kw)
    with pytest.raises(ValueError, match="unknown language 'xx'"):
        E.alignment_precision(model, tok, [("a", "b")], "xx", plan, **kw)
    with pytest.raises(ValueError, match="mismatched pair counts"):
        x = torch.randn(4, 3, dtype=torch.float64)
        E.word_links(cloud([SRC[:4]], [x]), cloud([EN[:4]] * 2, [x, x]), LossConfig(eps=0.1))


# -- retrieval ------------------------------------------------------------------------------


def test_retrieval_p1_identical_and_constructed():
    torch.manual_seed(0)
    v = torch.randn(50, 16)
    assert E.retrieval_p1(v, v) == {"xx_en": 1.0, "en_xx": 1.0}
    assert E.retrieval_p1(2.0 * v, v) == {"xx_en": 1.0, "en_xx": 1.0}  # cosine: scale-free
    en = torch.eye(4)
    src = torch.tensor([[1.0, 0, 0, 0], [0, 0, 1, 0.1], [0, 0, 1, 0], [0, 0, 0, 1]])
    # xx->en: 0->0, 1->2 (wrong), 2->2, 3->3. en->xx: 0->0, 1 has cosine 0 with every source
    # row so the tie goes to row 0 (wrong), 2->2 (1.0 beats 0.995), 3->3
    assert E.retrieval_p1(src, en) == {"xx_en": 0.75, "en_xx": 0.75}
    with pytest.raises(ValueError, match="mismatched counts"):
        E.retrieval_p1(v, v[:10])
    with pytest.raises(ValueError, match="no sentences"):
        E.retrieval_p1(v[:0], v[:0])


def test_sentence_vectors_are_masked_means_in_input_order(tiny):
    model, tok = tiny
    sents = ["a much longer sentence than the others here", "short one", "mid sized text"]
    batched = E.sentence_vectors(model, tok, sents, batch_size=2)
    for i, s in enumerate(sents):
        enc = tok([s], return_tensors="pt")
        with torch.no_grad():
            H = model(**enc).last_hidden_state[0]
        assert torch.allclose(batched[i], H.mean(0), atol=1e-5)
    assert not torch.allclose(
        E.sentence_vectors(model, tok, sents[:1], prefix="query: "), batched[:1]
    )
    with pytest.raises(ValueError, match="no sentences"):
        E.sentence_vectors(model, tok, [])


def test_retrieval_of_identical_pairs_is_perfect(tiny):
    model, tok = tiny
    sents = ["the cat sat", "a dog ran home", "rain in spain", "seven green trees", "the end"]
    out = E.retrieval(model, tok, list(zip(sents, sents, strict=True)), "de", progress=False)
    assert out["p1_xx_en"] == out["p1_en_xx"] == 1.0
    assert out["ngram_xx_en"] == 1.0 and out["n"] == 5 and out["random"] == pytest.approx(0.2)


def test_ngram_vectors_are_stable():
    a = E.ngram_vectors(["Linux kernel 6.1", "linux  KERNEL 6.1"])
    assert torch.equal(a[0], a[1]) and a[0].sum() == len(" linux kernel 6.1 ") - 2


def test_sample_pairs_dedups_and_is_seeded():
    pairs = [("Hund", "dog"), ("Hund!", "hound"), ("Katze", "cat"), ("Kater", "Cat."), ("?", "x")]
    got = E.sample_pairs(pairs, None, seed=1, lang="de")
    assert len(got) == 2  # Hund/Hund!, cat/Cat. are duplicates under norm; "?" has no word
    assert E.sample_pairs(pairs, 1, seed=3) == E.sample_pairs(pairs, 1, seed=3)
    with pytest.raises(ValueError, match="no pairs"):
        E.sample_pairs([], 3)


# -- classification -------------------------------------------------------------------------


def blobs(n: int, seed: int, d: int = 10, c: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    centres = 4.0 * torch.eye(c, d)
    y = torch.arange(n) % c
    return centres[y] + 0.5 * torch.randn(n, d, generator=g), y


def test_probe_separable_features_and_deterministic():
    Xtr, ytr = blobs(300, 0)
    Xdv, ydv = blobs(60, 1)
    Xte, yte = blobs(90, 2)
    p = E.fit_probe(Xtr, ytr, Xdv, ydv, 3)
    assert p.accuracy(Xte, yte) >= 0.99 and p.dev_accuracy >= 0.99
    assert p.weight_decay == max(E.WEIGHT_DECAYS)  # a tie on dev goes to the larger decay
    q = E.fit_probe(Xtr, ytr, Xdv, ydv, 3)
    assert torch.equal(p.W, q.W) and torch.equal(p.b, q.b)
    with pytest.raises(ValueError, match="empty"):
        E.fit_probe(Xtr[:0], ytr[:0], Xdv, ydv, 3)
    with pytest.raises(ValueError, match="mismatched counts"):
        E.fit_probe(Xtr, ytr[:10], Xdv, ydv, 3)


TOPICS = {
    "games": ("game play level player", "Spiel spielen Level Spieler"),
    "sound": ("audio music sound player", "Audio Musik Klang Spieler"),
    "net": ("network server protocol client", "Netzwerk Server Protokoll Klient"),
}


@pytest.fixture
def fake_corpora(monkeypatch):
    """Tiny stand-ins for the corpora loaders: sections in en/de, pairs and a lexicon."""

    def sections(lang, split, cache=None):
        if lang not in ("en", "de"):
            raise corpora.CorpusError(f"no {lang}")
        n = {"train": 8, "dev": 3, "test": 3}[split]
        out = []
        for label, (en, de) in TOPICS.items():
            words = (en if lang == "en" else de).split()
            for k in range(n):
                out.append((" ".join(words[k % 4 :] + words[: k % 4]) + f" {split}{k}", label))
        return out

    pairs = [(f"Hund Katze {i}", f"dog cat {i}") for i in range(12)]

    def offline_pairs(lang, split, cache=None):
        return pairs

    def load_lexicon(lang, cache=None):
        if lang == "zh":
            raise corpora.CorpusError("no zh lexicon")
        return {"hund": {"dog"}, "katze": {"cat"}}

    monkeypatch.setattr(corpora, "load_sections", sections)
    monkeypatch.setattr(corpora, "section_labels", lambda cache=None: sorted(TOPICS))
    monkeypatch.setattr(corpora, "offline_pairs", offline_pairs)
    monkeypatch.setattr(corpora, "load_lexicon", load_lexicon)


def test_zero_shot_classification_runs_and_caches(tiny, fake_corpora, tmp_path):
    model, tok = tiny
    kw = {"sizes": EvalSizes(cls_train=20, cls_dev=None, cls_test=None), "progress": False}
    a = E.zero_shot_classification(model, tok, ["de"], feature_cache=tmp_path, **kw)
    assert a["train_n"] == 20 and a["n/en"] == a["n/de"] == 9
    assert a["gap/de"] == pytest.approx(a["acc/en"] - a["acc/de"])
    assert 0.0 <= a["acc/de"] <= 1.0 and a["weight_decay"] in E.WEIGHT_DECAYS
    files = sorted(tmp_path.glob("*.pt"))
    assert len(files) == 4  # en train, en dev, en test, de test
    b = E.zero_shot_classification(model, tok, ["de"], feature_cache=tmp_path, **kw)
    assert a == b and sorted(tmp_path.glob("*.pt")) == files  # read back, same numbers
    c = E.zero_shot_classification(model, tok, ["de"], **kw)  # no cache: same numbers
    assert c == a
    with pytest.raises(corpora.CorpusError):
        E.zero_shot_classification(model, tok, ["fr"], **kw)
    with pytest.raises(ValueError, match="unknown language"):
        E.zero_shot_classification(model, tok, ["klingon"], **kw)


def test_fingerprint_changes_with_any_weight(tiny):
    model, _ = tiny
    f0 = E.model_fingerprint(model)
    p = next(model.parameters())
    with torch.no_grad():
        p.view(-1)[0] += 1.0
        f1 = E.model_fingerprint(model)
        p.view(-1)[0] -= 1.0
    assert f1 != f0 and E.model_fingerprint(model) == f0


# -- evaluate_all and comparisons -----------------------------------------------------------


def test_evaluate_all_record(tiny, fake_corpora):
    model, tok = tiny
    kw = {
        "plan": LossConfig(eps=0.05, cost="euclidean"),
        "seed": 1,
        "sizes": EvalSizes(
            align_pairs=4, retrieval_pairs=10, cls_train=12, cls_dev=None, cls_test=None
        ),
        "progress": False,
    }
    rec = E.evaluate_all(model, tok, ["de", "zh"], **kw)
    json.dumps(rec, allow_nan=False)  # plain JSON
    assert rec["seed"] == 1 and rec["retrieval/de/n"] == 10 and rec["align/de/pairs"] == 4
    assert rec["align/de/links"] == 4 * 3  # "Hund Katze i": three words per sentence
    assert rec["align/de/identical"] == 4  # the number
    assert "align/zh/precision" not in rec and "retrieval/zh/p1_xx_en" in rec
    assert rec["skipped"] == ["align/zh: no lexicon", "cls/zh: no translated descriptions"]
    assert rec["cls/de/gap"] == pytest.approx(rec["cls/en/acc"] - rec["cls/de/acc"])
    assert rec["retrieval/avg/p1_xx_en"] == pytest.approx(
        (rec["retrieval/de/p1_xx_en"] + rec["retrieval/zh/p1_xx_en"]) / 2
    )
    assert rec["align/avg/precision"] == rec["align/de/precision"]
    assert rec["time/total"] >= rec["time/cls"] > 0
    again = E.evaluate_all(model, tok, ["de", "zh"], **kw)
    assert {k: v for k, v in again.items() if not k.startswith("time/")} == {
        k: v for k, v in rec.items() if not k.startswith("time/")
    }
    with pytest.raises(ValueError, match="unknown language 'en'"):
        E.evaluate_all(model, tok, ["en"], plan=LossConfig(eps=0.05, cost="euclidean"))
    with pytest.raises(ValueError, match="no language"):
        E.evaluate_all(model, tok, [], plan=LossConfig(eps=0.05, cost="euclidean"))


def test_summarise_math():
    recs = [
        {"seed": 0, "a": 1.0, "b": None, "s": "x"},
        {"seed": 1, "a": 2.0, "b": 5},
        {"seed": 2, "a": 3.0, "b": 7},
    ]
    s = E.summarise(recs)
    assert s["a"] == {"mean": 2.0, "std": 1.0, "n": 3}
    assert s["b"]["mean"] == 6.0 and s["b"]["n"] == 2
    assert s["b"]["std"] == pytest.approx(math.sqrt(2))
    assert "seed" not in s and "s" not in s
    assert E.summarise([{"a": 4.0}])["a"] == {"mean": 4.0, "std": None, "n": 1}
    with pytest.raises(ValueError, match="no records"):
        E.summarise([])


def test_supported_and_compare():
    d = E.supported([1.0, 1.2, 0.8])
    assert d["mean"] == pytest.approx(1.0) and d["se"] == pytest.approx(0.2 / math.sqrt(3))
    assert d["supported"] is True
    assert E.supported([1.0, -1.0, 0.5])["supported"] is False
    assert E.supported([3.0]) == {"mean": 3.0, "se": None, "n": 1, "supported": False}
    # a metric that cannot move: rounding noise of 1e-17 is not an effect
    assert E.supported([1e-17, 1e-17, 1e-17])["supported"] is False
    assert E.supported([0.002, 0.002, 0.002])["supported"] is True  # consistent, tiny but real
    with pytest.raises(ValueError, match="no differences"):
        E.supported([])
    extra = {"time/total": 9.0, "retrieval/de/n": 5, "retrieval/de/random": 0.2, "cls/en/acc": 1}
    before = [{"seed": s, "m": 0.50, **extra} for s in range(3)]
    after = [{"seed": s, "m": 0.60 + 0.01 * s, **extra} for s in (2, 0, 1)]
    c = E.compare(before, after)
    assert set(c) == {"m", "cls/en/acc"}  # timings, counts and baselines are not compared
    assert c["cls/en/acc"] == {"mean": 0.0, "se": 0.0, "n": 3, "supported": False}
    assert c["m"]["mean"] == pytest.approx(0.11) and c["m"]["n"] == 3 and c["m"]["supported"]
    with pytest.raises(ValueError, match="no common seed"):
        E.compare(before, [{"seed": 7, "m": 1.0}])
    with pytest.raises(ValueError, match="share a seed"):
        E.compare(before + before[:1], after)


def test_squad_metrics_is_still_exported():
    from wordot.evaluation import squad_metrics

    assert squad_metrics({"q": "Paris"}, {"q": ["Paris"]}) == {"exact_match": 100.0, "f1": 100.0}
