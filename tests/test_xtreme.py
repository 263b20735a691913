"""Zero-shot XNLI/XQuAD (wordot.xtreme): labels, SQuAD metric, doc-stride windows and span
search, presets, the paper's numbers, and both pipelines end to end on the shipped fixtures.

Offline and CPU only; the fixtures go through the same loader as the hub data.
"""

from __future__ import annotations

import json
import time
import types
import unicodedata
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import pytest

from wordot import config, evaluation, languages, xtreme
from wordot.data import DatasetNotAvailableError
from wordot.models import load_encoder

SHARED = Path(__file__).resolve().parents[2] / "shared" / "paper_results"
XNLI_MT = Path(__file__).parent / "fixtures" / "xtreme" / "XNLI-MT-1.0" / "multinli"


@pytest.fixture(scope="module")
def tokenizer():
    return load_encoder("tiny")[1]


# ---------------------------------------------------------------------------------------------
# labels
# ---------------------------------------------------------------------------------------------


def test_label_names_and_hub_ids_map_to_the_same_ids():
    assert [xtreme.nli_label_id(x) for x in NLI_NAMES] == [0, 1, 2, 2]
    assert [xtreme.nli_label_id(i) for i in (0, 1, 2)] == [0, 1, 2]  # hub ids pass unchanged
    assert xtreme.nli_label_id(" Contradictory ") == 2
    for bad in ("contradict", 3, -1):
        with pytest.raises(ValueError):
            xtreme.nli_label_id(bad)


NLI_NAMES = ["entailment", "neutral", "contradiction", "contradictory"]


def test_xnli_mt_text_file_maps_contradictory_to_contradiction():
    tsv = XNLI_MT / "multinli.train.en.tsv"
    raw = [line.split("\t")[2] for line in tsv.read_text().splitlines()[1:]]
    assert raw == ["entailment", "neutral", "contradictory"] * 2
    ds = xtreme.load_nli("en", "train", data_files=tsv)
    assert ds.column_names == ["premise", "hypothesis", "label"]
    assert ds["label"] == [0, 1, 2, 0, 1, 2]
    assert ds.features["label"].names == ["entailment", "neutral", "contradiction"]
    assert ds[2]["hypothesis"] == "The woman is sitting at home."


def test_hub_class_labels_pass_unchanged_and_other_orders_are_mapped_by_name(tmp_path):
    rows = {"premise": ["p0", "p1", "p2"], "hypothesis": ["h0", "h1", "h2"], "label": [0, 1, 2]}
    hub = datasets.Features(
        premise=datasets.Value("string"),
        hypothesis=datasets.Value("string"),
        label=datasets.ClassLabel(names=["entailment", "neutral", "contradiction"]),
    )
    folder = tmp_path / "facebook" / "xnli" / "fr"
    folder.mkdir(parents=True)
    datasets.Dataset.from_dict(rows, features=hub).to_parquet(
        str(folder / "test-00000-of-00001.parquet")
    )
    ds = xtreme.load_nli("fr", "test", tmp_path)  # a directory laid out like the hub repo
    assert ds["label"] == [0, 1, 2] and ds["premise"] == ["p0", "p1", "p2"]

    # XTREME's own order is ["contradiction", "entailment", "neutral"]: ids 0,1,2 there mean
    # contradiction, entailment, neutral, i.e. our 2, 0, 1
    xtreme_order = hub.copy()
    xtreme_order["label"] = datasets.ClassLabel(names=["contradiction", "entailment", "neutral"])
    datasets.Dataset.from_dict(rows, features=xtreme_order).to_parquet(
        str(folder / "validation-00000-of-00001.parquet")
    )
    assert xtreme.load_nli("fr", "validation", tmp_path)["label"] == [2, 0, 1]


def test_fixtures_have_the_hub_schemas_and_seven_scripts():
    for lang in config.resolve("smoke").tasks.xnli_languages:
        for split in ("validation", "test"):
            ds = xtreme.load_nli(lang, split, "fixtures")
            assert sorted(ds["label"]) == [0, 1, 2], (lang, split)
    assert len(xtreme.load_nli("en", "train", "fixtures")) == 24
    squad = xtreme.load_split(xtreme.SQUAD_HUB, "plain_text", "train", "fixtures")
    assert squad.features == xtreme.hub_features(xtreme.SQUAD_HUB)
    scripts = set()
    for lang in config.resolve("smoke").tasks.xquad_languages:
        ds = xtreme.load_split(xtreme.XQUAD_HUB, f"xquad.{lang}", "validation", "fixtures")
        assert ds.features == xtreme.hub_features(xtreme.XQUAD_HUB)
        for row in ds:
            (text,), (start,) = row["answers"]["text"], row["answers"]["answer_start"]
            assert row["context"][start : start + len(text)] == text
            scripts |= {unicodedata.name(ch).split()[0] for ch in row["context"] if ch.isalpha()}
    assert {"LATIN", "GREEK", "CYRILLIC", "ARABIC", "DEVANAGARI", "THAI", "CJK"} <= scripts


def test_missing_data_fails_fast_and_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    t0 = time.perf_counter()
    expected = r"facebook/xnli \(config 'en', split 'train'"
    with pytest.raises(DatasetNotAvailableError, match=expected) as err:
        xtreme.run_xnli("bert-base-multilingual-cased", data="hub", results_dir=tmp_path)
    assert time.perf_counter() - t0 < 10
    assert "hf download facebook/xnli --repo-type dataset" in str(err.value)
    assert "task_data" in str(err.value)
    with pytest.raises(DatasetNotAvailableError, match=r"google/xquad .*no file validation"):
        xtreme.load_qa("xquad", "sw", tmp_path)


# ---------------------------------------------------------------------------------------------
# the SQuAD v1.1 metric, worked by hand
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prediction", "references", "em", "f1"),
    [
        ("the Eiffel Tower!", ["Eiffel Tower"], 100.0, 100.0),  # article + ASCII punctuation
        ("Paris France", ["Paris"], 0.0, 100 * 2 * 0.5 / 1.5),  # P=1/2, R=1
        # max over references: vs "1905" F1 2/3; vs "in year 1905" P=1, R=2/3 -> F1 0.8
        ("in 1905", ["1905", "in the year 1905"], 0.0, 80.0),
        ("new new york", ["new york"], 0.0, 80.0),  # counts clipped: P=2/3, R=1
        ("«Berlin»", ["Berlin"], 0.0, 0.0),  # only ASCII punctuation is removed
        ("北京市", ["北京"], 0.0, 0.0),  # whitespace tokens: no partial credit without spaces
        ("Theatre", ["theatre"], 100.0, 100.0),  # "the" is dropped only as a whole word
        ("", ["anything"], 0.0, 0.0),
    ],
)
def test_squad_metric_single_question(prediction, references, em, f1):
    got = evaluation.squad_metrics({"q": prediction}, {"q": references})
    assert got["exact_match"] == pytest.approx(em)
    assert got["f1"] == pytest.approx(f1)


def test_squad_metric_averages_and_counts_missing_predictions_as_zero():
    refs = {"a": ["Cologne"], "b": ["the North Sea"], "c": ["about 1,230 kilometres"]}
    preds = {"a": "Cologne", "c": "1230 kilometres", "z": "ignored"}
    got = evaluation.squad_metrics(preds, refs)
    # a: EM 1, F1 1; b: missing -> 0; c: "1230 kilometres" vs "about 1230 kilometres"
    # (the comma is punctuation) -> P=1, R=2/3, F1=0.8
    assert got["exact_match"] == pytest.approx(100 / 3)
    assert got["f1"] == pytest.approx(100 * (1 + 0 + 0.8) / 3)
    assert xtreme.normalize_answer("  The  Rhine, a river. ") == "rhine river"
    with pytest.raises(ValueError):
        evaluation.squad_metrics({}, {})


# ---------------------------------------------------------------------------------------------
# doc-stride windows and the span search
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def doc(tokenizer):
    """40 words that are single tokens of the tiny tokenizer, as a context (token i = word i)."""
    vocab = sorted(tokenizer.get_vocab())
    words = [w for w in vocab if w.isascii() and w.isalpha() and w.islower() and len(w) >= 4]
    words = [w for w in words if tokenizer.tokenize(w) == [w]][:40]
    assert len(words) == 40
    return words, " ".join(words)


def _window_params(tokenizer, question, ctx_tokens):
    q_len = len(tokenizer(question, add_special_tokens=False)["input_ids"])
    return q_len + tokenizer.num_special_tokens_to_add(pair=True) + ctx_tokens


def _answer(words, i, j):
    text = " ".join(words[i : j + 1])
    return {"text": [text], "answer_start": [len(" ".join(words[:i])) + (1 if i else 0)]}


def _logits(feats, hot, value=10.0):
    """Logits of -5 everywhere except ``{(window, token): value}``."""
    out = np.full(feats.input_ids.shape, -5.0)
    for (f, t), v in hot.items():
        out[f, t] = v if v is not None else value
    return out


def test_windows_step_by_doc_stride_and_share_the_overlap(tokenizer, doc):
    words, context = doc
    q = "where is the castle"
    L = _window_params(tokenizer, q, 20)
    f = xtreme.prepare_qa(tokenizer, [q], [context], max_length=L, doc_stride=10)
    assert f.input_ids.shape == (3, L)  # windows at doc tokens 0, 10, 20 (the last: 20-39)
    assert f.doc_start.tolist() == [0, 10, 20] and f.window_index.tolist() == [0, 1, 2]
    ctx = f.offsets[..., 0] >= 0
    assert ctx.sum(1).tolist() == [20, 20, 20]
    # consecutive windows overlap by 20 - 10 tokens with identical character spans
    for w in range(2):
        assert (f.offsets[w][ctx[w]][10:] == f.offsets[w + 1][ctx[w + 1]][:10]).all()
    # every context token has its maximum context in exactly one window
    owners = np.zeros(40, dtype=int)
    for w in range(3):
        owners[f.doc_start[w] + np.flatnonzero(f.max_context[w][ctx[w]])] += 1
    assert (owners == 1).all()
    # token 14: 5 tokens to window 0's end, 4 to window 1's start -> window 0 owns it;
    # token 15: 4 vs 5 -> window 1
    assert f.max_context[0][np.flatnonzero(ctx[0])[14]]
    assert not f.max_context[1][np.flatnonzero(ctx[1])[4]]
    assert f.max_context[1][np.flatnonzero(ctx[1])[5]]
    assert not f.max_context[0][np.flatnonzero(ctx[0])[15]]
    # the same windows as transformers' own overflow (stride = overlap = 20 - 10 tokens)
    ref = tokenizer(
        q,
        context,
        truncation="only_second",
        max_length=L,
        stride=10,
        return_overflowing_tokens=True,
        padding="max_length",
        return_token_type_ids=True,
    )
    assert f.input_ids.tolist() == ref["input_ids"]
    assert f.token_type_ids.tolist() == ref["token_type_ids"]


def test_answer_that_only_fits_in_the_second_window(tokenizer, doc):
    words, context = doc
    q = "where is the castle"
    L = _window_params(tokenizer, q, 20)
    ans = _answer(words, 22, 24)
    f = xtreme.prepare_qa(tokenizer, [q], [context], [ans], max_length=L, doc_stride=20)
    assert len(f) == 2 and f.doc_start.tolist() == [0, 20]  # no overlap: 0-19, 20-39
    first_ctx = int(np.flatnonzero(f.offsets[1, :, 0] >= 0)[0])
    assert (f.start_positions.tolist(), f.end_positions.tolist()) == (
        [0, first_ctx + 2],
        [0, first_ctx + 4],
    )  # window 0 is labelled with the first token (no answer)
    o = f.offsets[1]
    assert context[o[f.start_positions[1], 0] : o[f.end_positions[1], 1]] == ans["text"][0]

    # span search: a decoy in window 0 scores less than the answer in window 1
    start = _logits(f, {(0, first_ctx + 5): 6.0, (1, first_ctx + 2): 9.0})
    end = _logits(f, {(0, first_ctx + 6): 6.0, (1, first_ctx + 4): 9.0})
    preds, nbest = xtreme.postprocess_qa(f, start, end, [context], ["q"])
    assert preds == {"q": " ".join(words[22:25])}
    assert nbest["q"][0]["score"] == pytest.approx(18.0)


def test_answer_across_a_window_boundary_comes_from_the_window_that_holds_it(tokenizer, doc):
    words, context = doc
    q = "where is the castle"
    L = _window_params(tokenizer, q, 20)
    ans = _answer(words, 17, 22)  # window 0 ends at token 19, window 1 holds 10-29
    f = xtreme.prepare_qa(tokenizer, [q], [context], [ans], max_length=L, doc_stride=10)
    c = [int(np.flatnonzero(f.offsets[w, :, 0] >= 0)[0]) for w in range(3)]
    assert f.start_positions.tolist() == [0, c[1] + 7, 0]  # only window 1 gets the label
    assert f.end_positions.tolist() == [0, c[1] + 12, 0]

    # window 0 strongly prefers the cut-off span 17-19; window 1 the whole answer 17-22.
    # Token 17 has its maximum context in window 1 (3 vs 7 tokens on its short side), so the
    # start in window 0 is not allowed and the whole answer wins.
    start = _logits(f, {(0, c[0] + 17): 12.0, (1, c[1] + 7): 8.0})
    end = _logits(f, {(0, c[0] + 19): 12.0, (1, c[1] + 12): 8.0})
    preds, _ = xtreme.postprocess_qa(f, start, end, [context], ["q"])
    assert preds["q"] == ans["text"][0]
    cut, _ = xtreme.postprocess_qa(f, start, end, [context], ["q"], use_max_context=False)
    assert cut["q"] == " ".join(words[17:20])


def test_no_spans_in_question_special_tokens_or_too_long(tokenizer, doc):
    words, context = doc
    q = "where is the castle"
    L = _window_params(tokenizer, q, 20)
    f = xtreme.prepare_qa(tokenizer, [q], [context], max_length=L, doc_stride=20)
    seq = np.flatnonzero(f.offsets[0, :, 0] < 0)  # CLS, question, SEPs
    c0 = int(np.flatnonzero(f.offsets[0, :, 0] >= 0)[0])
    hot_s = {(0, int(t)): 20.0 for t in seq} | {(0, c0 + 3): 5.0, (0, c0): 7.0}
    hot_e = {(0, int(t)): 20.0 for t in seq} | {(0, c0 + 4): 5.0, (0, c0 + 15): 9.0}
    preds, nbest = xtreme.postprocess_qa(
        f, _logits(f, hot_s), _logits(f, hot_e), [context], ["q"], max_answer_length=10
    )
    # c0 .. c0+15 would score 16 but has 16 tokens > 10; the best valid span is c0 .. c0+4
    assert preds["q"] == " ".join(words[0:5])
    scores = [c["score"] for c in nbest["q"]]
    assert scores == sorted(scores, reverse=True) and len(scores) <= 20
    assert len({c["text"] for c in nbest["q"]}) == len(scores)
    assert sum(c["probability"] for c in nbest["q"]) == pytest.approx(1.0)
    assert all(c["char_start"] >= 0 for c in nbest["q"])


def test_long_questions_are_cut_and_lowercasing_keeps_original_offsets(tokenizer):
    q = " ".join(["where"] * 30)
    f = xtreme.prepare_qa(tokenizer, [q], ["The Rhine flows."], max_length=32, max_query_length=5)
    first_segment = (f.token_type_ids[0] == 0) & (f.attention_mask[0] == 1)
    assert first_segment.sum() == 1 + 5 + 1  # CLS, 5 question tokens, SEP
    lower = load_encoder("tiny")[1]
    assert xtreme.set_lowercase(lower)
    ctx = "Der Fluss ÖDÖN"
    assert lower.tokenize("ÖDÖN") == lower.tokenize("odon") != tokenizer.tokenize("ÖDÖN")
    g = xtreme.prepare_qa(lower, ["wo"], [ctx], max_length=16)
    spans = [ctx[a:b] for a, b in g.offsets[0] if a >= 0]
    assert "".join(spans) == ctx.replace(" ", "")  # offsets index the cased original


# ---------------------------------------------------------------------------------------------
# presets, the paper's numbers, the estimate
# ---------------------------------------------------------------------------------------------


def test_presets_are_xtremes_scripts():
    p = xtreme.get_preset("xnli")
    assert (p.lr, p.epochs, p.batch_size, p.grad_accum, p.max_length) == (2e-5, 5, 8, 4, 128)
    assert (p.warmup_steps, p.weight_decay, p.max_grad_norm) == (0, 0.0, 1.0)
    assert (p.eval_every, p.select_best) == (100, True)
    old, new = xtreme.get_preset("xquad", "xtreme-2020"), xtreme.get_preset("xquad", "xtreme-2021")
    assert xtreme.get_preset("xquad") == old  # the paper predates the 2021-08-11 change
    for q in (old, new):
        assert (q.lr, q.max_length, q.doc_stride, q.max_query_length) == (3e-5, 384, 128, 64)
        assert (q.n_best, q.max_answer_length, q.warmup_steps) == (20, 30, 500)
        assert q.weight_decay == 1e-4
    assert (old.epochs, old.batch_size, old.grad_accum, old.do_lower_case) == (2, 4, 4, True)
    assert (new.epochs, new.batch_size, new.grad_accum, new.do_lower_case) == (3, 4, 8, False)
    table = xtreme.preset_table("xquad")
    assert list(table.columns) == ["xtreme-2020 (default)", "xtreme-2021", "cpu", "smoke"]
    assert table.loc["effective_batch"].tolist()[:2] == ["16", "32"]
    assert table.loc["effective_batch", "smoke"] == "8"
    assert table.loc["lr", "xtreme-2021"] == "3e-05"
    with pytest.raises(ValueError, match="unknown xnli preset"):
        xtreme.get_preset("xnli", "xtreme-2021")
    for name in config.PROFILES:  # every profile names real presets and languages
        cfg = config.resolve(name)
        tasks = cfg.tasks
        xtreme.get_preset("xnli", tasks.xnli_preset), xtreme.get_preset("xquad", tasks.xquad_preset)
        assert set(tasks.xnli_languages) <= set(languages.XNLI)
        assert set(tasks.xquad_languages) <= set(languages.XQUAD)


def test_grad_accum_must_divide_among_processes():
    # XNLI's preset: batch 8 per device x grad_accum 4 = an effective batch of 32. Under N
    # processes each accumulates 4 / N batches; N = 3 or 8 cannot keep the batch (rounding, as
    # max(1, 4 // N), made 8 x 1 x 3 = 24 or 8 x 1 x 8 = 64), so it is an error
    p = xtreme.get_preset("xnli")
    assert [xtreme.accumulation_steps(p, n) for n in (1, 2, 4)] == [4, 2, 1]
    for n in (3, 8):
        with pytest.raises(ValueError, match=rf"grad_accum 4 does not divide among {n} processes"):
            xtreme.accumulation_steps(p, n)
    with pytest.raises(ValueError) as err:
        xtreme.accumulation_steps(p, 3)
    assert "'xtreme'" in str(err.value) and "effective batch of 32" in str(err.value)


def test_fine_tune_checks_the_processes_before_anything_else():
    # a stand-in for accelerate's Accelerator launched as 3 processes: fine_tune must fail at
    # once, before it seeds, builds a loader or touches the model
    three = types.SimpleNamespace(num_processes=3)
    smoke = xtreme.get_preset("xquad", "smoke")  # grad_accum 2
    with pytest.raises(ValueError, match="grad_accum 2 does not divide among 3 processes"):
        xtreme.fine_tune(None, [], None, smoke, accelerator=three)


def test_paper_tables_match_the_shared_transcription_and_their_averages():
    if SHARED.is_dir():
        for name in ("xnli_per_language", "xquad_per_language", "averages_seen", "xlmr"):
            shipped = (xtreme.PAPER_DIR / f"{name}.csv").read_text()
            assert shipped == (SHARED / f"{name}.csv").read_text(), name
    for task, metric in (("xnli", None), ("xquad", "F1"), ("xquad", "EM")):
        t = xtreme.paper_table(task, metric)
        assert list(t.index) == ["mBERT", "L2", "WordOT", "WordOT*", "LargeWordOT"]
        seen = t[list(xtreme.SEEN[task])].mean(axis=1)  # English included, as in the paper
        every = t[list(xtreme.task_languages(task))].mean(axis=1)
        assert (seen - t["avg_seen"]).abs().max() <= 0.1, task
        assert (every - t["avg_all"]).abs().max() <= 0.1, task
    xnli = xtreme.paper_table("xnli")
    assert xnli.loc["WordOT", "avg_seen"] - xnli.loc["mBERT", "avg_seen"] == pytest.approx(1.9)


def test_gpu_estimate_arithmetic():
    e = xtreme.estimate_hours("xnli", "xtreme", "V100 (fp32)")
    assert e["train_passes"] == 392_702 * 5
    assert e["updates"] == 12_272 * 5 and e["dev_evaluations"] == 613
    assert e["dev_items"] == 613 * 2_490 and e["test_items"] == 15 * 5_010
    assert e["total_hours"] == pytest.approx(
        (392_702 * 5 / 150 + (613 * 2_490 + 15 * 5_010) / 1_500) / 3600
    )
    q20, q21 = (xtreme.estimate_hours("xquad", n) for n in ("xtreme-2020", "xtreme-2021"))
    assert q21["train_hours"] == pytest.approx(1.5 * q20["train_hours"])
    assert len(xtreme.estimate_table("xquad")) == 4


# ---------------------------------------------------------------------------------------------
# heads on encoder-only checkpoints, and the pipelines end to end on the fixtures
# ---------------------------------------------------------------------------------------------


def test_encoder_only_checkpoint_gets_a_new_head_and_keeps_its_weights(tmp_path):
    enc, tok = load_encoder("tiny")
    enc.embeddings.word_embeddings.weight.data.mul_(3.0)  # not the "tiny" initialisation
    enc.save_pretrained(tmp_path / "ckpt")
    tok.save_pretrained(tmp_path / "ckpt")
    for task, head in (("xnli", "classifier"), ("xquad", "qa_outputs")):
        model, _, info = xtreme.load_task_model(task, str(tmp_path / "ckpt"), tmp_path / task)
        assert info["new_head"] == [f"{head}.bias", f"{head}.weight"]
        loaded = model.base_model.embeddings.word_embeddings.weight
        expected = enc.embeddings.word_embeddings.weight.detach().numpy()
        assert np.allclose(loaded.detach().numpy(), expected)

    # a checkpoint that lacks encoder weights must not silently train a random encoder
    from safetensors.numpy import load_file, save_file

    weights = load_file(str(tmp_path / "ckpt" / "model.safetensors"))
    del weights["encoder.layer.0.attention.self.query.weight"]
    save_file(weights, str(tmp_path / "ckpt" / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(RuntimeError, match="does not fit.*query.weight"):
        xtreme.load_task_model("xnli", str(tmp_path / "ckpt"), tmp_path / "broken")


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("xtreme")
    cfg = config.resolve("smoke").tasks
    t0 = time.perf_counter()
    xnli, xquad = (
        xtreme.run_task(
            task,
            "tiny",
            0,
            "smoke",
            languages=getattr(cfg, f"{task}_languages"),
            data="fixtures",
            results_dir=out,
            progress=False,
        )
        for task in ("xnli", "xquad")
    )
    return out, xnli, xquad, time.perf_counter() - t0


def test_xnli_pipeline_on_fixtures(smoke_runs):
    out, rec, _, seconds = smoke_runs
    assert seconds < 60
    path = xtreme.task_run_dir(out, "xnli", "tiny", 0)
    assert json.loads((path / "results.json").read_text())["metrics"] == rec["metrics"]
    assert list(rec["metrics"]) == list(config.resolve("smoke").tasks.xnli_languages)
    for lang, m in rec["metrics"].items():
        assert m["examples"] == 3 and 0 <= m["accuracy"] <= 100
        assert any(m["accuracy"] == pytest.approx(v) for v in (0, 100 / 3, 200 / 3, 100))
        labels = (path / "predictions" / f"test-{lang}.tsv").read_text().split()
        assert len(labels) == 3 and set(labels) <= set(xtreme.NLI_LABELS)
    assert rec["data"]["train"] == {
        "dataset": "facebook/xnli",
        "config": "en",
        "split": "train",
        "examples": 24,
    }
    assert rec["data"]["source"] == "fixtures" and rec["preset"]["name"] == "smoke"
    tr = rec["training"]
    assert tr["updates"] == tr["t_total"] == 6 // 2 * 6  # 6 batches of 4, accumulation 2, 6 epochs
    assert [u for u, _ in tr["dev_curve"]] == [3, 6, 9, 12, 15, 18]
    assert tr["best_dev"] == max(s for _, s in tr["dev_curve"])
    assert rec["head"]["new_head"] == ["classifier.bias", "classifier.weight"]
    assert {"torch", "transformers", "datasets", "accelerate"} <= set(rec["versions"])
    assert rec["averages"]["seen_languages"] == ["en", "bg", "de", "el"]
    assert not rec["averages"]["seen_complete"]
    log = [json.loads(line) for line in (path / "log.jsonl").read_text().splitlines()]
    assert sum("loss" in r for r in log) == 18 and sum("dev" in r for r in log) == 6


def test_xquad_pipeline_on_fixtures(smoke_runs):
    out, _, rec, _ = smoke_runs
    path = xtreme.task_run_dir(out, "xquad", "tiny", 0)
    assert rec["data"]["train"]["examples"] == 12 and rec["data"]["train"]["skipped_examples"] == 0
    assert rec["data"]["train"]["windows"] > 12  # contexts need several 64-token windows
    for lang, m in rec["metrics"].items():
        assert 0 <= m["exact_match"] <= m["f1"] <= 100
        assert m["examples"] == 3
        ds = xtreme.load_qa("xquad", lang, "fixtures")
        preds = json.loads((path / "predictions" / f"test-{lang}.json").read_text())
        assert set(preds) == set(ds["id"])
        assert all(p in ctx for p, ctx in zip(preds.values(), ds["context"], strict=True))
    assert rec["metrics"]["en"]["windows"] > 3
    loss = rec["training"]["epoch_loss"]
    assert loss[-1] < loss[0]  # the loop trains: the SQuAD fixture's loss goes down
    assert rec["tokenizer"] == {"do_lower_case": False, "lowercase_applied": False}


def test_finished_runs_are_reused_and_fixtures_are_not_results(smoke_runs):
    out, rec, _, _ = smoke_runs
    t0 = time.perf_counter()
    again = xtreme.run_xnli(
        "tiny",
        0,
        "smoke",
        languages=config.resolve("smoke").tasks.xnli_languages,
        data="fixtures",
        results_dir=out,
    )
    assert time.perf_counter() - t0 < 2 and again["finished"] == rec["finished"]
    assert xtreme.load_results(out, "xnli") == []  # fixture runs are pipeline checks
    found = xtreme.load_results(out, "xnli", include_fixtures=True)
    assert len(found) == 1 and found[0]["seed"] == 0


def test_results_table_means_over_seeds_and_sits_under_the_paper():
    def fake(seed, shift):
        langs = languages.XNLI
        return {
            "task": "xnli",
            "encoder": "bert-base-multilingual-cased",
            "seed": seed,
            "preset": {"name": "xtreme"},
            "metrics": {lg: {"accuracy": 70.0 + i + shift} for i, lg in enumerate(langs)},
        }

    table = xtreme.results_table([fake(0, 0.0), fake(1, 1.0)])
    row = table.loc["ours: mBERT [xtreme]"]
    assert row["en"] == pytest.approx(70.5) and row["zh"] == pytest.approx(84.5)
    assert row["avg_seen"] == pytest.approx(70.5 + 2.5) and row["seeds"] == 2
    both = xtreme.comparison_table("xnli", [fake(0, 0.0)])
    assert list(both.index)[:5] == [f"paper: {m}" for m in xtreme.paper_table("xnli").index]
    assert isinstance(both, pd.DataFrame) and len(both) == 6
