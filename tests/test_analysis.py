"""wordot.evaluation.analysis on constructed plans and the tiny random encoder (offline, seconds)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from wordot import data, embed, ot
from wordot.embed import EmbedConfig
from wordot.evaluation import analysis as A
from wordot.evaluation import argmax_links
from wordot.loss import LossConfig
from wordot.models import load_encoder


@pytest.fixture(scope="module")
def tiny():
    model, tok = load_encoder("tiny")
    return model.eval(), tok


# -- patterns of one plan -------------------------------------------------------------------


def test_row_shares_and_spread_rows():
    plan = torch.tensor(
        [
            [0.50, 0.50, 0.00, 0.00],  # two words, half each: spread
            [0.60, 0.30, 0.10, 0.00],  # 30% is enough: spread over 0 and 1
            [0.80, 0.15, 0.05, 0.00],  # one dominant word: no spread
            [0.00, 0.00, 0.00, 0.00],  # no mass: no spread, zero shares
            [0.10, 0.30, 0.30, 0.30],  # three words with 30%: spread over 1, 2, 3
        ]
    )
    shares = A.row_shares(plan * 0.2)  # the scale of a row does not matter
    assert torch.allclose(shares[:3].sum(1), torch.ones(3))
    assert torch.equal(shares[3], torch.zeros(4))
    spreads = A.spread_rows(plan * 0.2)
    assert [s.row for s in spreads] == [0, 1, 4]
    assert spreads[0].targets == (0, 1) and spreads[0].shares == pytest.approx((0.5, 0.5))
    assert spreads[1].targets == (0, 1) and spreads[1].shares == pytest.approx((0.6, 0.3))
    assert spreads[2].targets == (1, 2, 3)
    assert [s.row for s in A.spread_rows(plan, min_targets=3)] == [4]
    assert [s.row for s in A.spread_rows(plan, min_share=0.5)] == [0]
    assert [s.row for s in A.spread_rows(plan, min_share=0.1, min_targets=1)] == [0, 1, 2, 4]


@pytest.mark.parametrize(
    "bad",
    [
        torch.ones(3),  # not a matrix
        torch.zeros(0, 2),  # empty
        torch.tensor([[0.5, -0.1]]),  # negative
        torch.tensor([[float("nan"), 0.1]]),  # NaN
        [[0.5, 0.5]],  # not a tensor
    ],
)
def test_plans_are_checked(bad):
    with pytest.raises(ValueError, match="plan must be"):
        A.spread_rows(bad)  # type: ignore[arg-type]


def test_spread_rows_arguments():
    plan = torch.full((2, 2), 0.25)
    with pytest.raises(ValueError, match="min_share"):
        A.spread_rows(plan, min_share=0)
    with pytest.raises(ValueError, match="min_share"):
        A.spread_rows(plan, min_share=1.5)
    with pytest.raises(ValueError, match="min_targets"):
        A.spread_rows(plan, min_targets=0)


def test_is_contiguous():
    assert A.is_contiguous([3, 4]) and A.is_contiguous([5, 3, 4]) and A.is_contiguous([7])
    assert not A.is_contiguous([3, 5])
    with pytest.raises(ValueError, match="no targets"):
        A.is_contiguous([])


def test_many_to_one():
    links = [(0, 1), (1, 1), (2, 0), (3, 1), (4, 2), (5, 2)]
    assert A.many_to_one(links) == {1: [0, 1, 3], 2: [4, 5]}
    assert A.many_to_one(links, min_sources=3) == {1: [0, 1, 3]}
    assert A.many_to_one([(0, 0), (1, 1)]) == {}
    with pytest.raises(ValueError, match="min_sources"):
        A.many_to_one(links, min_sources=1)


def test_many_to_one_of_argmax_links():
    plan = torch.tensor([[0.3, 0.0], [0.2, 0.1], [0.0, 0.4]])
    assert A.many_to_one(argmax_links(plan)) == {0: [0, 1]}


def test_compound_candidate():
    assert A.compound_candidate("Rahmengesetzgebung")
    assert A.compound_candidate("Ping-Hilfswerkzeug")
    assert A.compound_candidate("Binärpakete")  # umlauts are letters
    assert not A.compound_candidate("Haus")  # short
    assert not A.compound_candidate("IPv6-fähigen")  # a digit
    assert not A.compound_candidate("-Werkzeuge-")  # empty parts
    assert not A.compound_candidate("Werkzeug--Kasten")
    assert A.compound_candidate("Haus", min_length=4)
    with pytest.raises(ValueError, match="min_length"):
        A.compound_candidate("Haus", min_length=0)


def test_is_compound_needs_a_long_word_the_lexicon_lacks():
    assert A.is_compound("Rahmengesetzgebung", LEXICON, "de")
    assert not A.is_compound("Rahmengesetzgebung", {"rahmengesetzgebung": {"law"}}, "de")
    assert not A.is_compound("Hund", LEXICON, "de")


def test_scan_plans_records_words_and_groups():
    rahmen = _cloud(
        ["Rahmengesetzgebung", "der", "Hund"], ["the", "framework", "legislation", "dog"], 3, 4
    )
    plan = torch.tensor(
        [
            [0.00, 0.15, 0.15, 0.033],  # a compound spread over two adjacent English words
            [0.05, 0.00, 0.00, 0.28],  # der -> dog ...
            [0.00, 0.00, 0.00, 0.33],  # ... and Hund -> dog: a many-to-one group
        ]
    )
    hours = _cloud(["Stunden"], ["hours", "and", "hours"], 1, 3)
    words, groups = A.scan_plans(
        [rahmen, hours], [plan, torch.tensor([[0.5, 0.0, 0.5]])], LEXICON, "de"
    )
    assert [(w["pair"], w["word"]) for w in words] == [
        (0, "Rahmengesetzgebung"),
        (0, "der"),
        (0, "Hund"),
        (1, "Stunden"),
    ]
    first = words[0]
    assert first["compound"] and first["spread"] and first["phrase"] and not first["repeated"]
    assert first["targets"] == "framework legislation" and first["min share"] == pytest.approx(
        0.45, abs=0.01
    )
    assert not first["in many-to-one"] and words[1]["in many-to-one"] and words[2]["in many-to-one"]
    assert not words[1]["spread"] and words[1]["targets"] == "" and words[1]["min share"] == 0.0
    assert words[1]["alphabetic"] and not words[2]["compound"]
    last = words[3]
    assert last["spread"] and not last["phrase"] and last["repeated"]  # two occurrences of hours
    assert groups == [
        {
            "pair": 0,
            "English word": "dog",
            "source words": "der + Hund",
            "sources": 2,
            "lexicon verdicts": "unscored correct",
        }
    ]
    assert tuple(groups[0]) == A.GROUP_COLUMNS
    strict, _ = A.scan_plans([rahmen], [plan], LEXICON, "de", min_share=0.5)
    assert not strict[0]["spread"]
    with pytest.raises(ValueError, match="2 clouds but 1 plans"):
        A.scan_plans([rahmen, hours], [plan], LEXICON, "de")


# -- links and the lexicon ------------------------------------------------------------------

LEXICON = {"hund": {"dog"}, "haus": {"house"}, "spiele": {"games"}}


def test_lexicon_hits_and_classify_links():
    src = ["Der", "Hund", "Linux", "Spiele"]
    en = ["The", "dog", "Linux", "game", "house"]
    assert A.lexicon_hits(src, en, LEXICON, "de") == [(1, 1), (3, 3)]  # Spiele ~ game(s)
    links = [(0, 0), (1, 1), (2, 2), (3, 4)]
    assert A.classify_links(links, src, en, LEXICON, "de") == [
        "unscored",  # "der" is in no entry
        "correct",
        "identical",
        "wrong",  # Spiele -> house
    ]
    with pytest.raises(ValueError, match="outside"):
        A.classify_links([(0, 9)], src, en, LEXICON, "de")


def test_analysis_lexicon_smoke():
    lex = A.analysis_lexicon("de", "smoke")
    assert lex["schuhe"] == {"shoes"}
    lex["schuhe"].add("boots")  # a copy: the module's lists stay as they are
    assert data.SMOKE_LEXICON["de"]["schuhe"] == {"shoes"}
    with pytest.raises(ValueError, match="no smoke lexicon"):
        A.analysis_lexicon("ar", "smoke")


# -- noisy pairs ----------------------------------------------------------------------------


def test_add_noise_appends_another_pair():
    src = [["a1", "a2"], ["b1"], ["c1", "c2", "c3"]]
    en = [["A1"], ["B1", "B2"], ["C1"]]
    s, e, sg, eg = A.add_noise(src, en, "src", seed=3)
    assert (sg, eg) == ([2, 1, 3], [1, 2, 1])
    assert e == en
    fillers = []
    for k in range(3):
        assert s[k][: sg[k]] == src[k]
        filler = s[k][sg[k] :]
        assert filler in src and filler != src[k]  # another pair's sentence, never its own
        fillers.append(filler)
    assert sorted(map(tuple, fillers)) == sorted(map(tuple, src))  # a permutation
    s2, e2, _, _ = A.add_noise(src, en, "en", seed=3)
    assert s2 == src and all(e2[k][: len(en[k])] == en[k] for k in range(3))
    assert all(len(e2[k]) > len(en[k]) for k in range(3))
    assert A.add_noise(src, en, "src", seed=3) == (s, e, sg, eg)  # seeded
    assert src == [["a1", "a2"], ["b1"], ["c1", "c2", "c3"]]  # inputs untouched


def test_add_noise_checks():
    with pytest.raises(ValueError, match="side"):
        A.add_noise([["a"], ["b"]], [["A"], ["B"]], "xx")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 2 pairs"):
        A.add_noise([["a"]], [["A"]], "src")
    with pytest.raises(ValueError, match="English ones"):
        A.add_noise([["a"], ["b"]], [["A"]], "src")
    with pytest.raises(ValueError, match="at least one word"):
        A.add_noise([["a"], []], [["A"], ["B"]], "en")


def test_kept_mass_on_a_constructed_plan():
    # 1 genuine + 1 appended source word, 2 genuine English words; weights 1/2 each.
    # The genuine row sends its whole 1/2, the appended row only 1/4 of its 1/2.
    plan = torch.tensor([[0.25, 0.25], [0.125, 0.0]])
    m = A.kept_mass(plan, src_genuine=1, en_genuine=2)
    assert m.src_genuine == pytest.approx(1.0) and m.src_noise == pytest.approx(0.25)
    assert m.en_genuine == pytest.approx((0.375 * 2 + 0.25 * 2) / 2)
    assert math.isnan(m.en_noise)
    assert m.total == pytest.approx(0.625)
    assert m.noise_share == pytest.approx(0.125 / 0.625)
    balanced = torch.full((4, 2), 1 / 8)
    b = A.kept_mass(balanced, src_genuine=2, en_genuine=1)
    assert (b.src_genuine, b.src_noise, b.en_genuine, b.en_noise) == pytest.approx((1, 1, 1, 1))
    assert b.noise_share == pytest.approx(0.75)  # all but the genuine 2 x 1 block
    with pytest.raises(ValueError, match="genuine counts"):
        A.kept_mass(plan, src_genuine=3, en_genuine=0)


def _cloud(src: list[str], en: list[str], src_genuine: int, en_genuine: int) -> A.PairCloud:
    return A.PairCloud(
        src, en, torch.zeros(len(src), 2), torch.zeros(len(en), 2), src_genuine, en_genuine
    )


def test_genuine_links_counts_links_into_the_noise():
    cloud = _cloud(["Hund", "Haus", "Baum"], ["dog", "house", "cat", "tree"], 2, 2)
    plan = torch.tensor(
        [
            [0.20, 0.00, 0.05, 0.00],  # Hund -> dog: correct
            [0.00, 0.05, 0.20, 0.00],  # Haus -> cat (appended): wrong, into the noise
            [0.00, 0.00, 0.00, 0.30],  # Baum is appended: not scored
        ]
    )
    counts, into = A.genuine_links(plan, cloud, LEXICON, "de")
    assert (counts.links, counts.scored, counts.correct, into) == (2, 2, 1, 1)
    with pytest.raises(ValueError, match="does not fit"):
        A.genuine_links(plan[:, :3], cloud, LEXICON, "de")


def test_pair_cloud_checks():
    with pytest.raises(ValueError, match="words for vectors"):
        A.PairCloud(["a"], ["b"], torch.zeros(2, 3), torch.zeros(1, 3), 1, 1)
    with pytest.raises(ValueError, match="src_genuine"):
        _cloud(["a"], ["b"], 2, 1)
    with pytest.raises(ValueError, match="en_genuine"):
        _cloud(["a"], ["b"], 1, -1)


# -- plans ----------------------------------------------------------------------------------


def test_transport_plans_match_one_problem_at_a_time():
    g = torch.Generator().manual_seed(0)
    sizes = [(3, 4), (5, 2), (1, 3), (4, 4)]
    clouds = [
        A.PairCloud(
            [f"s{i}" for i in range(n)],
            [f"e{j}" for j in range(m)],
            torch.randn(n, 3, generator=g, dtype=torch.float64),
            torch.randn(m, 3, generator=g, dtype=torch.float64),
            n,
            m,
        )
        for n, m in sizes
    ]
    plans = A.transport_plans(clouds, LossConfig(eps=0.1, cost="euclidean"), batch_size=3)
    for c, p in zip(clouds, plans, strict=True):
        n, m = c.x.shape[0], c.y.shape[0]
        assert p.shape == (n, m)
        assert torch.allclose(p.sum(1), torch.full((n,), 1 / n, dtype=p.dtype), atol=1e-6)
        assert torch.allclose(p.sum(0), torch.full((m,), 1 / m, dtype=p.dtype), atol=1e-6)
        alone = ot.transport_plan(c.x, c.y, eps=0.1, cost="euclidean")
        assert torch.allclose(p, alone, atol=1e-6)
    unbalanced = A.transport_plans(clouds, LossConfig(eps=0.1, cost="euclidean", reach=0.5))
    assert all(float(p.sum()) < 1 for p in unbalanced)
    with pytest.raises(ValueError, match="batch_size"):
        A.transport_plans(clouds, LossConfig(eps=0.1, cost="euclidean"), batch_size=0)
    with pytest.raises(ValueError, match="no clouds"):
        A.transport_plans([], LossConfig(eps=0.1, cost="euclidean"))


def test_unbalanced_ot_keeps_less_of_an_unmatched_word():
    # two source words sit on two English words; a third English word is far from everything
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([[0.0, 0.1], [1.0, 0.1], [0.5, 3.0]], dtype=torch.float64)
    cloud = A.PairCloud(["a", "b"], ["A", "B", "far"], x, y, 2, 2)
    (balanced,) = A.transport_plans([cloud], LossConfig(eps=0.05, cost="euclidean"))
    (relaxed,) = A.transport_plans([cloud], LossConfig(eps=0.05, cost="euclidean", reach=1.0))
    mb, mu = A.kept_mass(balanced, 2, 2), A.kept_mass(relaxed, 2, 2)
    assert mb.en_noise == pytest.approx(1.0, abs=1e-4)  # balanced: the far word gets its mass
    assert mu.en_noise < 0.2 < 0.8 < mu.en_genuine


def test_bootstrap_difference():
    correct, scored = [3, 4, 5, 2], [5, 5, 6, 4]
    d, lo, hi = A.bootstrap_difference(correct, scored, correct, scored, n_boot=200)
    assert (d, lo, hi) == (0.0, 0.0, 0.0)
    # b is a copy of a with one more correct link in every pair: a is 4/20 lower everywhere
    d, lo, hi = A.bootstrap_difference([1, 1, 1, 1], [5, 5, 5, 5], [2, 2, 2, 2], [5, 5, 5, 5])
    assert d == pytest.approx(-0.2) and lo == pytest.approx(-0.2) and hi == pytest.approx(-0.2)
    d, lo, hi = A.bootstrap_difference([1, 0, 1, 0], [1, 1, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1])
    assert d == pytest.approx(0.5) and 0 <= lo <= 0.5 <= hi <= 1
    assert A.bootstrap_difference([1, 0], [1, 1], [0, 0], [1, 1], seed=1) == (
        A.bootstrap_difference([1, 0], [1, 1], [0, 0], [1, 1], seed=1)
    )
    with pytest.raises(ValueError, match="one non-zero length"):
        A.bootstrap_difference([1], [1, 2], [1], [1])
    with pytest.raises(ValueError, match="one non-zero length"):
        A.bootstrap_difference([], [], [], [])
    with pytest.raises(ValueError, match="level"):
        A.bootstrap_difference([1], [1], [1], [1], level=1.0)


# -- the tiny encoder -----------------------------------------------------------------------


def test_pair_clouds_are_the_training_vectors(tiny):
    model, tok = tiny
    pairs = list(data.smoke_corpus("de"))[:5]
    clouds = A.pair_clouds(model, tok, pairs, "de", batch_size=2)
    with torch.no_grad():
        es = embed.embed_words(model, tok, [s for s, _ in pairs], "de")
        ee = embed.embed_words(model, tok, [e for _, e in pairs], "en")
    for k, c in enumerate(clouds):
        n, m = int(es.mask[k].sum()), int(ee.mask[k].sum())
        assert c.src_words == es.words[k] and c.en_words == ee.words[k]
        assert (c.src_genuine, c.en_genuine) == (n, m)
        assert torch.allclose(c.x, es.vectors[k, :n], atol=1e-5)
        assert torch.allclose(c.y, ee.vectors[k, :m], atol=1e-5)
    plans = A.transport_plans(clouds, LossConfig(eps=0.05, cost="euclidean"))
    for c, p in zip(clouds, plans, strict=True):
        m = A.kept_mass(p, c.src_genuine, c.en_genuine)
        assert m.src_genuine == pytest.approx(1.0, abs=1e-2) and math.isnan(m.src_noise)
    with pytest.raises(ValueError, match="pooling"):
        A.pair_clouds(model, tok, pairs, "de", EmbedConfig(pooling="subword"))
    with pytest.raises(ValueError, match="no pairs"):
        A.pair_clouds(model, tok, [], "de")


def test_noisy_clouds_reencode_only_the_noisy_side(tiny):
    model, tok = tiny
    clean = A.pair_clouds(model, tok, list(data.smoke_corpus("fr"))[:4], "fr")
    for side in ("src", "en"):
        noisy = A.noisy_clouds(model, tok, clean, side, seed=1)
        for c, z in zip(clean, noisy, strict=True):
            if side == "src":
                assert z.src_words[: z.src_genuine] == c.src_words
                assert len(z.src_words) > z.src_genuine and z.en_words == c.en_words
                assert torch.equal(z.y, c.y)  # the clean side's vectors are reused
                assert not torch.allclose(z.x[: z.src_genuine], c.x)  # new context
            else:
                assert z.en_words[: z.en_genuine] == c.en_words
                assert len(z.en_words) > z.en_genuine and torch.equal(z.x, c.x)
        plans = A.transport_plans(noisy, LossConfig(eps=0.05, cost="euclidean"))
        for z, p in zip(noisy, plans, strict=True):
            m = A.kept_mass(p, z.src_genuine, z.en_genuine)
            assert m.noise_share > 0 and (m.src_noise if side == "src" else m.en_noise) > 0.9
    with pytest.raises(ValueError, match="without appended words"):
        A.noisy_clouds(model, tok, noisy, "src")


def test_embed_clouds_checks_its_input(tiny):
    model, tok = tiny
    kw = {"src_genuine": [1]}
    with pytest.raises(ValueError, match="genuine counts for"):
        A.embed_clouds(model, tok, [["a"], ["b"]], [["A"], ["B"]], **kw)
    with pytest.raises(ValueError, match="out of range"):
        A.embed_clouds(model, tok, [["a"]], [["A"]], src_genuine=[2])
    with pytest.raises(ValueError, match="empty side"):
        A.embed_clouds(model, tok, [[]], [["A"]])
    with pytest.raises(ValueError, match="English ones"):
        A.embed_clouds(model, tok, [["a"]], [])
    clouds = A.embed_clouds(
        model, tok, [["Das", "Haus", "brennt"]], [["The", "house", "x"]], en_genuine=[2]
    )
    assert (clouds[0].src_genuine, clouds[0].en_genuine) == (3, 2)
    assert clouds[0].x.shape == (3, model.config.hidden_size)


def test_noise_records_against_their_parts():
    g = torch.Generator().manual_seed(0)

    def rand_cloud(n: int, m: int, src_genuine: int, en_genuine: int) -> A.PairCloud:
        x = torch.randn(n, 3, generator=g, dtype=torch.float64)
        y = torch.randn(m, 3, generator=g, dtype=torch.float64)
        src = [f"s{i}" for i in range(n)]
        return A.PairCloud(src, [f"e{j}" for j in range(m)], x, y, src_genuine, en_genuine)

    clean = [rand_cloud(3, 4, 3, 4), rand_cloud(2, 2, 2, 2)]
    noisy = {
        "src": [rand_cloud(5, 4, 3, 4), rand_cloud(4, 2, 2, 2)],
        "en": [rand_cloud(3, 6, 3, 4), rand_cloud(2, 5, 2, 2)],
    }
    lex = {"s0": {"e0"}, "s1": {"e1", "e4"}, "s2": {"e3"}}
    plan = LossConfig(eps=0.1, cost="euclidean", reach=7.0)  # its reach is replaced
    recs, per_pair = A.noise_records(clean, noisy, plan, [0.5, 2.0], lex, "de")
    names = list(A.NOISE_SETS)
    assert [(r["reach"], r["pairs"]) for r in recs] == [
        (r, n) for r in (0.0, 0.5, 2.0) for n in names
    ]
    assert set(per_pair) == {(r, n) for r in (None, 0.5, 2.0) for n in names}
    for r in recs[:3]:  # balanced: every word sends and receives its full mass
        assert r["OT"] == "balanced" and r["genuine words keep"] == pytest.approx(1, abs=1e-3)
        assert r["transported mass"] == pytest.approx(1, abs=1e-3)
    assert math.isnan(recs[0]["appended words keep"]) and math.isnan(
        recs[0]["mass on appended words"]
    )
    assert recs[1]["appended words keep"] == pytest.approx(1, abs=1e-3)
    assert all(r["OT"] == "unbalanced" and r["transported mass"] < 1 for r in recs[3:])
    # the last record, from its parts
    plans = A.transport_plans(noisy["en"], LossConfig(eps=0.1, cost="euclidean", reach=2.0))
    scored = [A.genuine_links(p, c, lex, "de") for c, p in zip(noisy["en"], plans, strict=True)]
    masses = [
        A.kept_mass(p, c.src_genuine, c.en_genuine) for c, p in zip(noisy["en"], plans, strict=True)
    ]
    counts = scored[0][0] + scored[1][0]
    last = recs[-1]
    assert (
        last["judged links"] == counts.scored
        and last["precision (genuine words)"] == counts.precision
    )
    assert last["links into appended words"] == (scored[0][1] + scored[1][1]) / counts.links
    assert last["appended words keep"] == pytest.approx(np.mean([m.en_noise for m in masses]))
    assert last["genuine words keep"] == pytest.approx(np.mean([m.en_genuine for m in masses]))
    correct, judged = per_pair[2.0, "English-side noise"]
    assert correct.tolist() == [s.correct for s, _ in scored] and judged.tolist() == [
        s.scored for s, _ in scored
    ]
    # precomputed balanced plans of the clean pairs are used as they are
    given = A.transport_plans(clean, LossConfig(eps=0.1, cost="euclidean"))
    again, _ = A.noise_records(clean, noisy, plan, [0.5, 2.0], lex, "de", clean_plans=given)
    same = [k for k in recs[0] if not (isinstance(recs[0][k], float) and math.isnan(recs[0][k]))]
    assert all(again[0][k] == recs[0][k] for k in same)
