"""The downsized zero-shot protocol (wordot.xtreme.downsized) and paired comparisons
(wordot.xtreme.compare): readers on the real XNLI / XQuAD files, the fixed splits, errors on
malformed files, both pipelines end to end on small slices with the tiny model, reuse, and the
paired bootstrap against hand cases and the normal approximation.

Offline and CPU only; the real files come from ../shared/eval-data (or $WORDOT_DATA).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
from pathlib import Path

import numpy as np
import pytest
import support
import torch

from wordot import xtreme
from wordot.datasets import EvalDataNotAvailableError
from wordot.models import load_encoder
from wordot.xtreme import runs
from wordot.xtreme.downsized import digest
from wordot.xtreme.finetune import PAD_LOGIT, LengthGroupedBatches

SPLIT = xtreme.DownsizedSplit  # seed 0, 12 test articles, 490 dev items, all test items


# ---------------------------------------------------------------------------------------------
# readers on the real files
# ---------------------------------------------------------------------------------------------


@support.needs_eval_data
def test_xnli_files_have_their_sizes_and_labels():
    dev = xtreme.load_xnli_file("en", "dev", support.EVAL_DATA)
    test = xtreme.load_xnli_file("sw", "test", support.EVAL_DATA)
    assert (len(dev), len(test)) == (2490, 5010)
    assert dev.column_names == ["premise", "hypothesis", "label"]
    # the label ids of load_nli: 0 entailment, 1 neutral, 2 contradiction, balanced
    assert dev.features["label"].names == list(xtreme.NLI_LABELS)
    assert np.bincount(dev["label"]).tolist() == [830, 830, 830]
    assert np.bincount(test["label"]).tolist() == [1670, 1670, 1670]
    first = (support.EVAL_DATA / "xnli" / "en" / "dev.tsv").read_text().split("\n")[0]
    premise, hypothesis, label = first.split("\t")
    assert (dev[0]["premise"], dev[0]["hypothesis"]) == (premise, hypothesis)
    assert xtreme.NLI_LABELS[dev[0]["label"]] == label


@support.needs_eval_data
def test_xnli_test_sets_are_parallel_and_subsampled_alike():
    sets = xtreme.xnli_test_sets(["en", "de", "zh"], support.EVAL_DATA)
    assert sets["de"]["label"] == sets["en"]["label"] == sets["zh"]["label"]
    idx = xtreme.item_subsample(5010, 1000, seed=0)
    assert len(idx) == 1000 and (np.diff(idx) > 0).all() and idx[-1] < 5010
    assert np.array_equal(idx, xtreme.item_subsample(5010, 1000, seed=0))  # every call, encoder
    assert not np.array_equal(idx, xtreme.item_subsample(5010, 1000, seed=1))
    # the first 100 of 1000 chosen are the 100 chosen: ranks do not depend on the count
    assert set(xtreme.item_subsample(5010, 100, seed=0)) <= set(idx)
    assert np.array_equal(xtreme.item_subsample(50, None), np.arange(50))
    # the documented rule: the line numbers with the lowest sha256("<seed>:<line>")
    assert idx.tolist() == sorted(sorted(range(5010), key=lambda i: _sha(f"0:{i}"))[:1000])


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@support.needs_eval_data
def test_xnli_dev_split_holds_out_whole_premises():
    dev = xtreme.load_xnli_file("en", "dev", support.EVAL_DATA)
    train, held = xtreme.xnli_dev_split(dev["premise"], 490, seed=0)
    # 830 premises with 3 hypotheses each: 164 premises = 492 items >= 490
    assert (len(train), len(held)) == (1998, 492)
    assert sorted([*train, *held]) == list(range(2490))
    premises = np.asarray(dev["premise"])
    assert not set(premises[train]) & set(premises[held])
    again = xtreme.xnli_dev_split(dev["premise"], 490, seed=0)
    assert np.array_equal(again[1], held)


@support.needs_eval_data
def test_xquad_files_are_parallel_and_split_by_article():
    sets = xtreme.xquad_test_sets(xtreme.XQUAD_FILES, support.EVAL_DATA)
    en = sets["en"]
    assert len(en) == 1190 and len(set(en["title"])) == 48
    assert en.column_names == ["id", "title", "context", "question", "answers"]
    assert all(ds["id"] == en["id"] for ds in sets.values())  # ids parallel in 12 languages
    row = sets["de"][0]
    (text,), (start,) = row["answers"]["text"], row["answers"]["answer_start"]
    assert row["context"][start : start + len(text)] == text

    train, test = xtreme.xquad_article_split(en["title"], 12, seed=0)
    assert (len(train), len(test)) == (36, 12) and not set(train) & set(test)
    assert set(train) | set(test) == set(en["title"])
    # the same split on every call and whatever the order of the titles (each list keeps the
    # order of its input)
    assert xtreme.xquad_article_split(en["title"], 12, seed=0) == (train, test)
    assert xtreme.xquad_article_split(en["title"][::-1], 12, seed=0)[1] == test[::-1]
    assert set(xtreme.xquad_article_split(en["title"], 12, seed=1)[1]) != set(test)
    with pytest.raises(ValueError, match="test_articles=48"):
        xtreme.xquad_article_split(en["title"], 48)


# ---------------------------------------------------------------------------------------------
# malformed files
# ---------------------------------------------------------------------------------------------


def _xnli(root: Path, lang: str, split: str, lines: list[str]) -> Path:
    path = root / "xnli" / lang / f"{split}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _xquad(root: Path, lang: str, ids: list[str], *, drop: str | None = None) -> Path:
    qas = [
        {"id": q, "question": f"q {q}?", "answers": [{"text": "Rhine", "answer_start": 4}]}
        for q in ids
    ]
    if drop:
        del qas[0][drop]
    doc = {"version": "1.1", "data": [{"title": "Rhine", "paragraphs": []}]}
    doc["data"][0]["paragraphs"].append({"context": "The Rhine flows.", "qas": qas})
    path = root / "xquad" / f"xquad.{lang}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_malformed_xnli_files_are_named(tmp_path):
    good = ["A man sleeps.\tA person rests.\tentailment", "It rains.\tIt is dry.\tcontradiction"]
    _xnli(tmp_path, "en", "dev", good)
    assert xtreme.load_xnli_file("en", "dev", tmp_path)["label"] == [0, 2]

    path = _xnli(tmp_path, "en", "dev", [good[0], "It rains.\tIt is dry.\tcontradict"])
    with pytest.raises(ValueError, match=rf"{path}:2: label 'contradict' is not"):
        xtreme.load_xnli_file("en", "dev", tmp_path)
    path = _xnli(tmp_path, "en", "dev", [good[0], "It rains.\tcontradiction"])
    with pytest.raises(ValueError, match=rf"{path}:2: 2 tab-separated field\(s\), expected 3"):
        xtreme.load_xnli_file("en", "dev", tmp_path)
    with pytest.raises(ValueError, match="no XNLI files for 'xx'"):
        xtreme.load_xnli_file("xx", "dev", tmp_path)
    with pytest.raises(EvalDataNotAvailableError, match="lacks fr/test.tsv"):
        xtreme.load_xnli_file("fr", "test", tmp_path)

    # test files must be parallel with English: line count and labels
    _xnli(tmp_path, "en", "test", good)
    de = _xnli(tmp_path, "de", "test", good[:1])
    with pytest.raises(ValueError, match=rf"{de} has 1 items, English 2"):
        xtreme.xnli_test_sets(["en", "de"], tmp_path)
    de = _xnli(tmp_path, "de", "test", [good[0], "Es regnet.\tEs ist trocken.\tneutral"])
    with pytest.raises(ValueError, match=rf"{de}:2: label differs from English"):
        xtreme.xnli_test_sets(["de"], tmp_path)


def test_malformed_xquad_files_are_named(tmp_path):
    _xquad(tmp_path, "en", ["a", "b"])
    ds = xtreme.load_xquad_file("en", tmp_path)
    assert ds["id"] == ["a", "b"] and ds["title"] == ["Rhine", "Rhine"]
    assert ds[0]["answers"] == {"text": ["Rhine"], "answer_start": [4]}

    de = _xquad(tmp_path, "de", ["a", "c"])
    with pytest.raises(ValueError, match=rf"{de}: question ids differ .* 'c' vs 'b'"):
        xtreme.xquad_test_sets(["de"], tmp_path)
    de = _xquad(tmp_path, "de", ["a", "b"], drop="answers")
    with pytest.raises(ValueError, match=r"paragraph 0, question 0: no 'answers' field"):
        xtreme.load_xquad_file("de", tmp_path)
    de = _xquad(tmp_path, "de", ["a", "a"])
    with pytest.raises(ValueError, match=rf"{de}: question id 'a' occurs twice"):
        xtreme.load_xquad_file("de", tmp_path)
    de.write_text('{"data": [', encoding="utf-8")
    with pytest.raises(ValueError, match=rf"corrupt file {de}"):
        xtreme.load_xquad_file("de", tmp_path)
    de.write_text('{"version": "1.1"}', encoding="utf-8")
    with pytest.raises(ValueError, match=rf"{de}: no 'data' list of articles"):
        xtreme.load_xquad_file("de", tmp_path)


def test_split_options_are_checked():
    with pytest.raises(ValueError, match="test_items must be a positive integer"):
        xtreme.DownsizedSplit(test_items=0)
    with pytest.raises(ValueError, match="for protocol='downsized'"):
        xtreme.DataRequest(("en",), "hub", None, "xtreme", xtreme.DownsizedSplit())
    with pytest.raises(ValueError, match="unknown protocol 'small'"):
        xtreme.run_task("xnli", "tiny", results_dir="unused", protocol="small")
    with pytest.raises(ValueError, match="data='fixtures' is for protocol 'xtreme'"):
        xtreme.run_task("xnli", "tiny", results_dir="unused", protocol="downsized", data="fixtures")
    assert xtreme.DownsizedSplit(test_items=5).to_dict("xquad") == {
        "seed": 0,
        "test_articles": 12,
        "train_items": None,
        "test_items": 5,
    }


# ---------------------------------------------------------------------------------------------
# both pipelines end to end on slices of the real files, with the tiny model
# ---------------------------------------------------------------------------------------------

XNLI_SLICE = SPLIT(dev_items=6, test_items=10)
LANGS = ("en", "de", "zh")  # XNLI; all three are in the fixtures too
XQUAD_SLICE = SPLIT(train_items=8, test_items=4)


def _run(task, out, *, seed=0, split, preset="smoke", langs=("en", "de"), limit=24):
    return xtreme.run_task(
        task,
        "tiny",
        seed,
        preset,
        results_dir=out,
        languages=langs,
        data=support.EVAL_DATA,
        train_limit=limit,
        protocol="downsized",
        split=split,
        progress=False,
    )


@pytest.fixture(scope="module")
def xnli_runs(tmp_path_factory):
    if support.EVAL_DATA is None:
        pytest.skip("real evaluation data absent")
    out = tmp_path_factory.mktemp("downsized")
    first = _run("xnli", out, split=XNLI_SLICE, langs=LANGS)
    second = _run("xnli", out, seed=1, split=XNLI_SLICE, langs=LANGS)
    return out, first, second


@support.needs_eval_data
def test_xnli_downsized_end_to_end(xnli_runs):
    out, rec, _ = xnli_runs
    data = rec["data"]
    assert data["protocol"] == "downsized" and data["split"] == XNLI_SLICE.to_dict("xnli")
    assert data["source"] == str(support.EVAL_DATA) and data["train_limit"] == 24
    assert data["train"]["examples"] == 24 and data["train"]["of"] == 2490 - 6
    assert (data["dev"]["examples"], data["dev"]["premises"]) == (6, 2)
    assert (data["test_items"]["count"], data["test_items"]["of"]) == (10, 5010)
    ids = [str(i) for i in xtreme.item_subsample(5010, 10)]
    assert data["test_items"]["sha256"] == digest(ids)
    run_dir = Path(rec["_path"]).parent
    for lg in LANGS:
        scores = json.loads((run_dir / "predictions" / f"scores-{lg}.json").read_text())
        assert scores["id"] == ids  # the same items in every language
        assert np.mean(scores["accuracy"]) == pytest.approx(rec["metrics"][lg]["accuracy"])
        assert len((run_dir / "predictions" / f"test-{lg}.tsv").read_text().split()) == 10
    assert rec["training"]["dev_curve"] and rec["preset"]["name"] == "smoke"
    assert json.loads((run_dir / "results.json").read_text())["data"] == data


@support.needs_eval_data
def test_xquad_downsized_end_to_end_with_the_cpu_options(tmp_path):
    # the cpu preset's options at CI size, and bf16 and frozen layers besides
    preset = dataclasses.replace(
        xtreme.get_preset("xquad", "smoke"),
        answer_window=48,
        group_by_length=True,
        freeze_word_embeddings=True,
        frozen_layers=1,
        mixed_precision="bf16",
    )
    rec = _run("xquad", tmp_path, split=XQUAD_SLICE, preset=preset, limit=None)
    data = rec["data"]
    assert data["protocol"] == "downsized" and data["split"]["test_articles"] == 12
    held = data["held_out_articles"]
    assert held["count"] == len(held["titles"]) == 12
    # 8 of the training articles' questions, chosen by the split (not the first 8)
    assert data["train"]["examples"] == 8 and data["train"]["articles"] > 1
    assert data["train"]["of"] + held["questions"] == 1190
    assert data["test_items"]["count"] == 4 and data["test_items"]["of"] == held["questions"]
    run_dir = Path(rec["_path"]).parent
    ids = None
    for lg in ("en", "de"):
        m = rec["metrics"][lg]
        assert 0 <= m["exact_match"] <= m["f1"] <= 100 and m["examples"] == 4
        scores = json.loads((run_dir / "predictions" / f"scores-{lg}.json").read_text())
        assert np.mean(scores["f1"]) == pytest.approx(m["f1"])
        assert ids is None or scores["id"] == ids
        ids = scores["id"]
    en = xtreme.load_xquad_file("en", support.EVAL_DATA)
    titles = dict(zip(en["id"], en["title"], strict=True))
    assert {titles[q] for q in ids} <= set(held["titles"])  # tested only on held-out articles
    # the documented rule: the held-out questions with the lowest sha256("<seed>:<id>")
    held_ids = [q for q in en["id"] if titles[q] in set(held["titles"])]
    assert sorted(ids) == sorted(sorted(held_ids, key=lambda q: _sha(f"0:{q}"))[:4])
    tr = rec["training"]
    assert tr["mixed_precision"] == "bf16" and rec["head"]["float32"]
    encoder = load_encoder("tiny")[0]
    frozen = [*encoder.embeddings.parameters(), *encoder.encoder.layer[0].parameters()]
    assert tr["frozen_parameters"] == sum(x.numel() for x in frozen)
    # one 48-token window per training question whose answer lies whole in one
    train = data["train"]
    assert train["windows"] + train["windowless_examples"] == train["examples"]
    assert train["windows"] >= 6 and train["skipped_examples"] == 0


@support.needs_eval_data
def test_reuse_needs_the_same_protocol_and_split(xnli_runs, tmp_path):
    out, rec, _ = xnli_runs
    again = _run("xnli", out, split=XNLI_SLICE, langs=LANGS)
    assert again["finished"] == rec["finished"]  # reused
    # a finished run of another split in the run directory is not reused
    target = xtreme.task_run_dir(tmp_path, "xnli", "tiny", 0) / xtreme.RESULTS_FILE
    target.parent.mkdir(parents=True)
    target.write_text(Path(rec["_path"]).read_text())
    changed = _run(
        "xnli", tmp_path, split=dataclasses.replace(XNLI_SLICE, test_items=8), langs=LANGS
    )
    assert changed["data"]["test_items"]["count"] == 8
    assert changed["data"]["split"]["test_items"] == 8


def test_reuse_rule_compares_protocol_split_and_defaults():
    record = {
        "task": "xnli",
        "encoder": "tiny",
        "seed": 0,
        "languages": ["en"],
        "preset": xtreme.get_preset("xnli", "cpu").to_dict(),
        "data": {"source": "eval-data", "train_limit": None, "protocol": "downsized"},
    }
    record["data"]["split"] = XNLI_SLICE.to_dict("xnli")
    record["data"]["items"] = {"train": "a", "dev": "b", "test": "d"}
    old = record | {"metrics": {"en": {"accuracy": 50.0}}}
    assert runs._same_run(old, record)
    for change in (
        {"protocol": "xtreme"},
        {"split": SPLIT(test_items=11, dev_items=6).to_dict("xnli")},
        {"split": SPLIT(seed=1, test_items=10, dev_items=6).to_dict("xnli")},
        {"items": {"train": "a", "dev": "b", "test": "c"}},  # other items (e.g. changed code)
    ):
        assert not runs._same_run(old | {"data": old["data"] | change}, record), change
    # a record written before protocols existed was an xtreme run; before the new preset
    # fields, a preset had their defaults
    paper = xtreme.get_preset("xnli").to_dict()
    new = record | {"preset": paper, "data": {"source": "hub", "train_limit": None}}
    older = {
        k: v for k, v in paper.items() if k not in ("freeze_word_embeddings", "mixed_precision")
    }
    legacy = new | {"metrics": {}, "preset": older}
    assert runs._same_run(legacy, new | {"data": new["data"] | {"protocol": "xtreme"}})
    assert not runs._same_run(legacy, new | {"data": new["data"] | {"protocol": "downsized"}})


# ---------------------------------------------------------------------------------------------
# less padding: trimmed batches, sorted inference, length-grouped training batches
# ---------------------------------------------------------------------------------------------


def test_cpu_presets_are_marked_as_not_xtremes():
    for task in ("xnli", "xquad"):
        p = xtreme.get_preset(task, "cpu")
        assert "not XTREME's" in p.source and "downsized" in p.source
        assert p.freeze_word_embeddings and p.group_by_length and p.mixed_precision == "no"
    assert xtreme.get_preset("xquad", "cpu").answer_window == 128
    paper = xtreme.get_preset("xnli")
    assert (paper.freeze_word_embeddings, paper.group_by_length, paper.mixed_precision) == (
        False,
        False,
        None,
    )
    with pytest.raises(ValueError, match="mixed_precision 'fp8'"):
        dataclasses.replace(paper, mixed_precision="fp8")


def test_collate_cuts_padding_after_the_longest_item():
    mask = np.zeros((3, 8), dtype=np.int8)
    for i, n in enumerate((3, 5, 2)):
        mask[i, :n] = 1
    ds = xtreme.ArrayDataset(
        {"input_ids": mask * 7, "attention_mask": mask, "start_positions": np.array([1, 4, 0])}
    )
    batch = xtreme.collate_arrays([ds[0], ds[2]])
    assert batch["input_ids"].shape == (2, 3) and batch["start_positions"].tolist() == [1, 0]
    assert xtreme.collate_arrays([ds[i] for i in range(3)])["attention_mask"].shape == (3, 5)


def test_length_grouped_batches_cover_every_item_once():
    lengths = list(np.random.default_rng(0).integers(5, 100, 103))
    batches = LengthGroupedBatches(lengths, 8, torch.Generator().manual_seed(0), group=4)
    epochs = [list(batches), list(batches)]
    assert len(batches) == len(epochs[0]) == 13
    for epoch in epochs:
        assert sorted(i for b in epoch for i in b) == list(range(103))
    assert epochs[0] != epochs[1]  # reshuffled every epoch
    again = LengthGroupedBatches(lengths, 8, torch.Generator().manual_seed(0), group=4)
    assert list(again) == epochs[0]  # deterministic
    # within a group of 4 batches the items are sorted by length: batches are narrow
    spread = np.mean([np.ptp([lengths[i] for i in b]) for b in epochs[0]])
    assert spread < 0.5 * np.ptp(lengths)


def test_sorted_inference_keeps_the_order(tokenizer_and_model):
    tok, model = tokenizer_and_model
    texts = ["a b", "the castle stands on a hill above the river", "x", "one two three four"]
    rows = [dict(tok(t, "h"), labels=0) for t in texts]
    collate = xtreme.nli_collator(tok)
    got = xtreme.predict_nli(model.nli, rows, collate, batch_size=3)
    alone = [xtreme.predict_nli(model.nli, [r], collate)[0] for r in rows]
    assert got.tolist() == alone

    feats = xtreme.prepare_qa(tok, ["where"] * 3, texts[1:], max_length=24, doc_stride=8)
    start, end = xtreme.qa_logits(model.qa, feats, batch_size=2)
    with torch.no_grad():
        ref = model.qa(**{k: torch.as_tensor(v).long() for k, v in feats.arrays().items()})
    real = feats.attention_mask.astype(bool)
    assert np.allclose(start[real], ref.start_logits.numpy()[real], atol=1e-5)
    assert np.allclose(end[real], ref.end_logits.numpy()[real], atol=1e-5)
    # positions after the longest window of a batch of 2 (windows sorted by length) are cut
    lengths = real.sum(1)
    order = np.argsort(lengths, kind="stable")
    for k in range(0, len(order), 2):
        idx = order[k : k + 2]
        width = lengths[idx].max()
        assert (start[idx, width:] == PAD_LOGIT).all() and (start[idx, :width] != PAD_LOGIT).all()


def test_answer_window_is_the_first_that_holds_the_answer(tokenizer_and_model):
    from wordot.xtreme.pipelines import _answer_windows

    tok = tokenizer_and_model[0]
    vocab = sorted(w for w in tok.get_vocab() if w.isascii() and w.isalpha() and len(w) >= 4)
    words = [w for w in vocab if w.islower() and tok.tokenize(w) == [w]][:40]
    context = " ".join(words)
    q_len = len(tok("where", add_special_tokens=False)["input_ids"])
    window = q_len + tok.num_special_tokens_to_add(pair=True) + 20  # 20 context tokens

    def chosen(i: int, j: int) -> int:
        text = " ".join(words[i : j + 1])
        ans = {"text": [text], "answer_start": [context.index(" " + text) + 1]}
        f = xtreme.prepare_qa(tok, ["where"], [context], [ans], max_length=window, doc_stride=10)
        assert f.doc_start.tolist() == [0, 10, 20]  # windows of tokens 0-19, 10-29, 20-39
        return f.doc_start[_answer_windows(f)].tolist()

    # tokens 15-16 lie in windows 0 and 1: window 0, which starts where the context starts (as
    # a test window does); 25-26 in windows 1 and 2; 18-21 crosses window 0's end
    assert chosen(15, 16) == [0] and chosen(25, 26) == [10] and chosen(18, 21) == [10]
    assert chosen(33, 35) == [20]


@pytest.fixture(scope="module")
def tokenizer_and_model(tmp_path_factory):
    torch.manual_seed(0)
    tmp = tmp_path_factory.mktemp("heads")
    nli, tok, _ = xtreme.load_task_model("xnli", "tiny", tmp / "nli")
    qa, _, _ = xtreme.load_task_model("xquad", "tiny", tmp / "qa")
    return tok, types.SimpleNamespace(nli=nli.eval(), qa=qa.eval())


# ---------------------------------------------------------------------------------------------
# paired bootstrap
# ---------------------------------------------------------------------------------------------


def test_paired_bootstrap_hand_cases():
    same = xtreme.paired_bootstrap([50.0, 70.0, 90.0], [52.0, 72.0, 92.0])
    assert same == {"difference": pytest.approx(2.0), "low": 2.0, "high": 2.0, "n": 3}
    # two items with differences 0 and 1: resampled means are 0, 1/2, 1 with probabilities
    # 1/4, 1/2, 1/4, so the 2.5% and 97.5% percentiles are 0 and 1
    two = xtreme.paired_bootstrap([0.0, 0.0], [0.0, 1.0], resamples=4000)
    assert (two["difference"], two["low"], two["high"]) == (0.5, 0.0, 1.0)
    assert xtreme.paired_bootstrap([1, 2], [2, 1], seed=3) == xtreme.paired_bootstrap(
        [1, 2], [2, 1], seed=3
    )
    with pytest.raises(ValueError, match="equal, non-empty"):
        xtreme.paired_bootstrap([1.0], [1.0, 2.0])


def test_paired_bootstrap_matches_the_normal_interval():
    # 1000 items whose scores share a large item effect (difficulty) plus a small encoder
    # effect: the paired interval is mean(d) +- 1.96 sd(d) / sqrt(n) and ignores difficulty
    rng = np.random.default_rng(7)
    difficulty = rng.normal(60.0, 20.0, 1000)
    base = difficulty + rng.normal(0.0, 2.0, 1000)
    other = difficulty + 0.5 + rng.normal(0.0, 2.0, 1000)
    got = xtreme.paired_bootstrap(base, other, resamples=4000, seed=0)
    d = other - base
    half = 1.96 * d.std() / np.sqrt(d.size)
    assert got["difference"] == pytest.approx(d.mean())
    # measured over bootstrap seeds 0-4: ends within 0.052 half-widths (seed 0: 0.051 and
    # 0.010); bound 0.1, about twice that (the Monte Carlo error of a 2.5% quantile of 4000
    # resamples is ~0.04 half-widths)
    assert abs(got["low"] - (d.mean() - half)) < 0.1 * half
    assert abs(got["high"] - (d.mean() + half)) < 0.1 * half
    assert got["low"] > 0  # the effect is clear; unpaired, the intervals would overlap widely


@support.needs_eval_data
def test_paired_differences_of_two_runs(xnli_runs):
    _, first, second = xnli_runs
    table = xtreme.paired_differences(first, second, resamples=500)
    assert list(table.index) == [*LANGS, "avg_seen", "avg_all"]
    for lg in LANGS:
        row = table.loc[lg]
        assert row["base"] == pytest.approx(first["metrics"][lg]["accuracy"])
        assert row["other"] == pytest.approx(second["metrics"][lg]["accuracy"])
        assert row["low"] <= row["difference"] <= row["high"] and row["n"] == 10
    avg = table.loc["avg_all"]
    assert avg["difference"] == pytest.approx(table.loc[list(LANGS), "difference"].mean())
    assert table.loc["avg_seen", "languages"] == 2  # en, de of the seen set
    assert (table.loc[list(LANGS), "languages"] == 1).all()
    for lg in LANGS:
        b = xtreme.item_scores(first, lg, "accuracy").to_numpy()
        o = xtreme.item_scores(second, lg, "accuracy").to_numpy()
        assert table.loc[lg, "changed"] == pytest.approx(100 * (b != o).mean())
    mine = xtreme.paired_differences(
        first, second, resamples=500, averages={"avg_trained": (LANGS[-1], "xx")}
    )
    assert mine.loc["avg_trained", "languages"] == 1  # a language the runs lack is left out
    assert mine.loc["avg_trained", "difference"] == pytest.approx(
        table.loc[LANGS[-1], "difference"]
    )
    with pytest.raises(ValueError, match="data.split"):
        changed = first | {"data": first["data"] | {"split": {"seed": 1}}}
        xtreme.paired_differences(first, changed)
