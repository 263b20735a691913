"""wordot.data: corpora of Table 6, TSV files, cleaning, upsampling and per-language batches.

Offline and fast: the hub code path is exercised on local files with the hub schemas
(tests/fixtures/parallel), and the offline error is checked with the hub made unreachable.
"""

from __future__ import annotations

import ast
import json
import time
import zipfile
from collections import Counter
from itertools import islice
from pathlib import Path

import pytest

from wordot import data, hub, languages
from wordot.data import ParallelCorpus
from wordot.embed import words_of

FIX = Path(__file__).parent / "fixtures" / "parallel"
ASSETS = Path(data.__file__).parents[1] / "assets" / "parallel"


def corpus(n: int, lang: str = "de", prefix: str = "") -> ParallelCorpus:
    return ParallelCorpus(
        lang, [f"{prefix}satz {i}" for i in range(n)], [f"{prefix}sentence {i}" for i in range(n)]
    )


# -- Table 6 --------------------------------------------------------------------------------


def test_paper_corpora_cover_the_14_languages_of_table_6():
    assert set(data.PAPER_CORPORA) == set(languages.LARGE)
    assert len(languages.LARGE) == 14 and languages.MAIN == ("bg", "de", "el", "es", "fr")
    corpus_of = {k: [s.corpus for s in v.sources] for k, v in data.PAPER_CORPORA.items()}
    assert {k for k, v in corpus_of.items() if v == ["Europarl"]} == set(languages.MAIN)
    assert {k for k, v in corpus_of.items() if v == ["MultiUN"]} == {"ar", "ru", "zh"}
    assert corpus_of["hi"] == ["IIT Bombay"]
    assert {k for k, v in corpus_of.items() if v == ["OpenSubtitles2018"]} == {"th", "tr", "vi"}
    assert corpus_of["ur"] == ["Tanzil"] and corpus_of["sw"] == ["Tanzil", "GlobalVoices"]
    assert data.PAPER_CORPORA["ru"].paper_pairs == 9_000_000
    assert data.PAPER_CORPORA["sw"].paper_pairs == 128_000


def test_hub_ids_configs_and_record_keys():
    de = data.PAPER_CORPORA["de"].sources[0]
    assert (de.hub_id, de.config, de.split, de.field, de.src_key, de.en_key) == (
        "Helsinki-NLP/europarl",
        "de-en",
        "train",
        "translation",
        "de",
        "en",
    )
    # configs name the pair in alphabetical order, as on the hub
    assert data.PAPER_CORPORA["es"].sources[0].config == "en-es"
    assert data.PAPER_CORPORA["ar"].sources[0].config == "ar-en"
    assert data.PAPER_CORPORA["zh"].sources[0].hub_id == "Helsinki-NLP/multiun"
    hi = data.PAPER_CORPORA["hi"].sources[0]
    assert (hi.hub_id, hi.config) == ("cfilt/iitb-english-hindi", None)
    tr = data.PAPER_CORPORA["tr"].sources[0]
    assert tr.script_based and dict(tr.config_kwargs) == {"lang1": "en", "lang2": "tr"}
    assert tr.opus_url == "https://object.pouta.csc.fi/OPUS-OpenSubtitles/v2018/moses/en-tr.txt.zip"
    assert tr.opus_members == ("OpenSubtitles.en-tr.tr", "OpenSubtitles.en-tr.en")
    gv = data.PAPER_CORPORA["sw"].sources[1]
    assert gv.opus_filename == "OPUS-GlobalVoices_v2018q4_en-sw.txt.zip"
    assert not any(
        s.script_based for k in ("de", "ar", "hi") for s in data.PAPER_CORPORA[k].sources
    )


def test_unknown_language_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown language 'xx'.*bg, de, el, es, fr, ar"):
        data.load_pairs("xx")
    with pytest.raises(ValueError, match="available: de, es, fr"):
        data.smoke_corpus("bg")


def test_load_corpora_checks_every_language_and_the_origin_first(tmp_path, monkeypatch):
    """An unknown language fails before anything is read (a hub corpus can take minutes),
    listing the languages the origin has; an unknown origin is named as such."""
    read = []
    monkeypatch.setattr(data.sources, "load_pairs", lambda lang, **kw: read.append(lang))
    with pytest.raises(ValueError, match=r"unknown hub corpus language code\(s\) \['xx'\]"):
        data.load_corpora(["de", "xx"], "hub")
    assert read == []
    with pytest.raises(ValueError, match=r"\['xx'\]; known: ar, bg, de, el, es, fr, hi, ru"):
        data.load_corpora(["xx"], "offline")
    (tmp_path / "de-en.tsv").write_text("Ja.\tYes.\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"\['fr'\]; known: de$"):
        data.load_corpora(["fr"], tmp_path)
    with pytest.raises(FileNotFoundError, match="unknown corpus origin 'hbu': expected 'hub'"):
        data.load_corpora(["de"], "hbu")


# -- hub schema through the hub code path ----------------------------------------------------


def test_europarl_records_via_data_files(tmp_path):
    c = data.load_pairs("de", data_files=FIX / "europarl_de-en.jsonl", cache_dir=tmp_path)
    assert len(c) == 4 and c.dropped == 1  # one record has an empty German side
    assert c.src[0] == "Wiederaufnahme der Sitzungsperiode"
    assert c.en[0] == "Resumption of the session"
    assert c.src[3] == "Die Rahmengesetzgebung ist zu allgemein."  # double space collapsed
    assert "Europarl schema" in c.source


def test_multiun_records_as_parquet(tmp_path):
    import datasets

    ds = datasets.load_dataset(
        "json", data_files=str(FIX / "multiun_ar-en.jsonl"), split="train", cache_dir=tmp_path
    )
    ds.to_parquet(tmp_path / "train-00000-of-00001.parquet")
    c = data.load_pairs(
        "ar", data_files=[tmp_path / "train-00000-of-00001.parquet"], cache_dir=tmp_path / "c"
    )
    assert list(c) == [
        ("الأمم المتحدة", "United Nations"),
        ("الجمعية العامة", "General Assembly"),
        ("جدول الأعمال المؤقت", "Provisional agenda"),
        ("تقرير الأمين العام", "Report of the Secretary-General"),
    ]


def test_iitb_records_en_first(tmp_path):
    c = data.load_pairs("hi", data_files=str(FIX / "iitb_en-hi.jsonl"), cache_dir=tmp_path)
    assert c.lang == "hi" and len(c) == 4
    assert (c.src[2], c.en[2]) == ("आपका नाम क्या है?", "What is your name?")


def test_opensubtitles_records_with_meta_and_id(tmp_path):
    c = data.load_pairs("tr", data_files=FIX / "opensubtitles_en-tr.jsonl", cache_dir=tmp_path)
    assert len(c) == 4
    assert (c.src[1], c.en[1]) == ("Bilmiyorum.", "I don't know.")
    assert c.en[2] == "Thank you. Thank you very much."


def test_dataset_object_and_limit(tmp_path):
    import datasets

    ds = datasets.load_dataset(
        "json", data_files=str(FIX / "tanzil_en-sw.jsonl"), split="train", cache_dir=tmp_path
    )
    c = data.load_pairs("sw", dataset=ds)
    assert len(c) == 2 and c.src[1].startswith("Sifa njema")
    records = [
        {"translation": {"de": "Ja.", "en": "Yes."}},
        {"translation": {"de": "Nein.", "en": "No."}},
    ]
    assert list(data.load_pairs("de", dataset=records, limit=1)) == [("Ja.", "Yes.")]


def test_wrong_record_keys_are_named():
    with pytest.raises(ValueError, match=r"no 'fr'.*fields: \['de', 'en'\]"):
        data.load_pairs("fr", dataset=[{"translation": {"de": "Ja.", "en": "Yes."}}])


def make_opus_zips(directory: Path, misaligned: bool = False) -> None:
    """The two Swahili OPUS archives, laid out as OPUS ships them (plus a README)."""
    for src in data.PAPER_CORPORA["sw"].sources:
        stem = src.opus_members[1].removesuffix(".en")
        with zipfile.ZipFile(directory / src.opus_filename, "w") as zf:
            for suffix in ("en", "sw"):
                text = (FIX / "opus_moses" / f"{stem}.{suffix}").read_text(encoding="utf-8")
                if misaligned and suffix == "sw":
                    text += "Ziada.\n"
                zf.writestr(f"{stem}.{suffix}", text)
            zf.writestr("README", "OPUS")


def test_opus_archives_are_read_and_concatenated(tmp_path):
    make_opus_zips(tmp_path)
    c = data.load_pairs("sw", opus_dir=tmp_path)
    assert len(c) == 5  # 2 Tanzil + 3 GlobalVoices
    assert c.en[0] == "In the name of God, the Gracious, the Merciful."
    assert (c.src[4], c.en[4]) == ("Asante sana.", "Thank you very much.")
    assert "Tanzil" in c.source and "GlobalVoices" in c.source
    assert data.load_pairs("sw", opus_dir=tmp_path, limit=1).en == [
        "In the name of God, the Gracious, the Merciful.",
        "Good morning.",
    ]


def test_misaligned_opus_archive_raises(tmp_path):
    make_opus_zips(tmp_path, misaligned=True)
    with pytest.raises(ValueError, match=r"Tanzil\.en-sw\.en ends at line 2.*not line-aligned"):
        data.load_pairs("sw", opus_dir=tmp_path)


def test_sample_is_a_seeded_uniform_subset(tmp_path):
    records = [{"translation": {"de": f"satz {i}", "en": f"sentence {i}"}} for i in range(1000)]
    a = data.load_pairs("de", dataset=records, sample=100, seed=5)
    assert len(a) == 100 and len(set(a.src)) == 100 and "random sample of 100" in a.source
    assert all(s.split()[1] == e.split()[1] for s, e in a)
    assert data.load_pairs("de", dataset=records, sample=100, seed=5).src == a.src
    assert data.load_pairs("de", dataset=records, sample=100, seed=6).src != a.src
    assert len(data.load_pairs("de", dataset=records[:30], sample=100)) == 30
    # uniform: over many seeds every tenth of the corpus gets about a tenth of the sample
    hits = Counter()
    for seed in range(200):
        for i in data.reservoir_sample(range(1000), 50, data.seeded_rng(seed, "test")):
            hits[i // 100] += 1
    assert all(abs(hits[b] / 10_000 - 0.1) < 0.01 for b in range(10)), hits


def test_offline_hub_fails_fast_with_instructions(tmp_path, monkeypatch):
    import datasets

    offline_before = datasets.config.HF_HUB_OFFLINE
    monkeypatch.setattr(hub, "reachable", lambda url, timeout: (False, "test: no network"))
    t0 = time.perf_counter()
    with pytest.raises(data.DatasetNotAvailableError) as err:
        data.load_pairs("de", cache_dir=tmp_path)
    assert time.perf_counter() - t0 < 10
    msg = str(err.value)
    assert isinstance(err.value, OSError)
    assert "Helsinki-NLP/europarl" in msg and "config de-en" in msg
    assert "hf download Helsinki-NLP/europarl --repo-type dataset --include 'de-en/*'" in msg
    assert "HF_HOME" in msg and "read_tsv" in msg
    assert datasets.config.HF_HUB_OFFLINE is offline_before  # global state restored


def test_offline_hub_uses_a_copied_cache(tmp_path, monkeypatch):
    """What a user gets after copying a networked machine's HF cache: the hub code path, offline.

    The cache is laid out as ``datasets`` lays out a hub download ({namespace}___{name}/{config}).
    """
    from datasets.data_files import DataFilesDict
    from datasets.packaged_modules.json.json import Json

    builder = Json(
        cache_dir=str(tmp_path),
        dataset_name="europarl",
        config_name="de-en",
        config_id="de-en",
        hash="0123456789abcdef",
        data_files=DataFilesDict.from_patterns({"train": [str(FIX / "europarl_de-en.jsonl")]}),
    )
    builder.download_and_prepare()
    (tmp_path / "europarl").rename(tmp_path / "Helsinki-NLP___europarl")
    monkeypatch.setattr(hub, "reachable", lambda url, timeout: (False, "test: no network"))
    c = data.load_pairs("de", cache_dir=tmp_path)
    assert (len(c), c.dropped) == (4, 1)
    assert c.source == "Europarl (Helsinki-NLP/europarl, config de-en, split train)"
    assert c.en[1] == "The sitting is opened."


def test_missing_opus_archive_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setattr(hub, "reachable", lambda url, timeout: (False, "test: no network"))
    with pytest.raises(data.DatasetNotAvailableError, match="legacy loading script") as err:
        data.load_pairs("tr", opus_dir=tmp_path)
    assert "curl -LO https://object.pouta.csc.fi/OPUS-OpenSubtitles/v2018/moses/en-tr" in str(
        err.value
    )
    assert "OPUS-OpenSubtitles_v2018_en-tr.txt.zip" in str(err.value)


def test_unreachable_host_probe_is_quick():
    t0 = time.perf_counter()
    assert hub.reachable("https://nonexistent.invalid", timeout=1.0)[0] is False
    assert time.perf_counter() - t0 < 5


# -- TSV ---------------------------------------------------------------------------------------


def test_tsv_malformed_lines_raise_with_file_and_line():
    with pytest.raises(ValueError, match=r"malformed\.tsv:4: expected 1 tab.*found 0"):
        data.read_tsv(FIX / "malformed.tsv", "de")


def test_tsv_skip_counts_malformed_lines():
    c = data.read_tsv(FIX / "malformed.tsv", "de", errors="skip")
    assert c.dropped == 3  # no tab, empty English side, two tabs; the blank line is ignored
    assert list(c) == [
        ("Guten Morgen.", "Good morning."),
        ("Danke schön.", "Thank you very much."),
        ("Bis bald.", "See you soon."),
    ]


def test_tsv_empty_side_and_header(tmp_path):
    p = tmp_path / "x.tsv"
    p.write_text("src\ten\nA b.\t\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"x\.tsv:2: empty English side"):
        data.read_tsv(p, "de", header=True)
    p.write_text("\ufeffsrc\ten\nA b.\tC d.\n", encoding="utf-8")
    assert list(data.read_tsv(p, "de", header=True)) == [("A b.", "C d.")]


def write_bytes(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_tsv_pairs_training_could_not_embed_fail_with_file_and_line(tmp_path):
    """Issue 14, item 2: such a line used to load and crash training at its batch."""
    lines = ["Guten Morgen.\tGood morning.", "Danke.\tThanks.", "Gut.\t!!!", "\u200b\u200b\tHello."]
    p = tmp_path / "bad.tsv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.tsv:3: English side has only punctuation.*'Gut"):
        data.read_tsv(p, "de")
    c = data.read_tsv(p, "de", errors="skip")
    assert list(c) == [("Guten Morgen.", "Good morning."), ("Danke.", "Thanks.")]
    assert c.dropped == 2 and c.drop_reasons == {
        "English side has only punctuation or symbols": 1,
        "source side has only invisible characters (zero-width, format or control characters)": 1,
    }


def test_records_training_could_not_embed_are_dropped_and_counted():
    records = [
        {"translation": {"de": "Ja.", "en": "Yes."}},
        {"translation": {"de": "...", "en": "..."}},
        {"translation": {"de": "Nein.", "en": "\u200b"}},
        {"translation": {"de": None, "en": "No."}},
    ]
    c = data.load_pairs("de", dataset=records)
    assert list(c) == [("Ja.", "Yes.")] and c.dropped == 3
    assert c.drop_reasons == {
        "source side has only punctuation or symbols": 1,
        "English side has only invisible characters (zero-width, format or control characters)": 1,
        "empty source side": 1,
    }


def test_tsv_latin1_fails_naming_file_line_and_encoding(tmp_path):
    p = write_bytes(tmp_path, "latin.tsv", "Ja.\tYes.\nSchön.\tNice.\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin\.tsv:2: not UTF-8 \(invalid .* byte 3: .*Latin-1"):
        data.read_tsv(p, "de")
    c = data.read_tsv(p, "de", errors="skip")
    assert list(c) == [("Ja.", "Yes.")] and c.drop_reasons == {"not UTF-8": 1}


def test_tsv_utf16_is_read_with_a_byte_order_mark_and_named_without(tmp_path):
    text = "de\ten\r\nSchön.\tNice.\r\nGrüße.\tRegards.\r\n"
    for codec in ("utf-16", "utf-16-be"):  # utf-16 writes a little-endian BOM here
        bom = b"\xfe\xff" if codec == "utf-16-be" else b""
        p = write_bytes(tmp_path, f"{codec}.tsv", bom + text.encode(codec))
        assert list(data.read_tsv(p, "de")) == [("Schön.", "Nice."), ("Grüße.", "Regards.")]
    p = write_bytes(tmp_path, "nobom.tsv", text.encode("utf-16-le"))
    with pytest.raises(ValueError, match=r"nobom\.tsv:1: NUL byte .*UTF-16 without a byte-order"):
        data.read_tsv(p, "de")


def test_tsv_nul_bytes_fail_with_file_and_line_or_are_counted(tmp_path):
    p = write_bytes(tmp_path, "nul.tsv", b"Ja.\tYes.\nNe\x00in.\tNo.\n")
    with pytest.raises(ValueError, match=r"nul\.tsv:2: NUL byte"):
        data.read_tsv(p, "de")
    assert data.read_tsv(p, "de", errors="skip").drop_reasons == {"NUL byte": 1}
    c = ParallelCorpus("de", ["Ja.", "Ne\x00in."], ["Yes.", "No."])
    assert data.prepare_language(c, 1)[1].removed == {"NUL byte in the source side": 1}


@pytest.mark.parametrize(
    "first", ["de\ten", "source\ttarget", "SRC\tTGT", "German\tEnglish", "# src\ten"]
)
def test_tsv_header_rows_are_recognised(tmp_path, first):
    p = tmp_path / "h.tsv"
    p.write_text(f"\n{first}\nA b.\tC d.\n", encoding="utf-8")
    c = data.read_tsv(p, "de")
    assert list(c) == [("A b.", "C d.")] and c.dropped == 0
    assert len(data.read_tsv(p, "de", header=False)) == 2


def test_tsv_first_pair_is_not_taken_for_a_header(tmp_path):
    p = tmp_path / "x.tsv"
    p.write_text("Text\tText\nde\ten\n", encoding="utf-8")  # only the first line may be one
    assert list(data.read_tsv(p, "de")) == [("Text", "Text"), ("de", "en")]
    assert not data.is_header_row("Quelle", "Source") and data.is_header_row("fr", "English")


def test_tsv_round_trip(tmp_path):
    c = ParallelCorpus("fr", ["Un\tdeux", "trois"], ["One\ntwo", "three"])
    back = data.read_tsv(data.write_tsv(c, tmp_path / "fr-en.tsv"), "fr")
    assert list(back) == [("Un deux", "One two"), ("trois", "three")]


def test_smoke_corpora_are_shipped_and_match_the_fixtures():
    for lang in data.SMOKE_LANGUAGES:
        c = data.smoke_corpus(lang)
        assert len(c) == 40 and c.dropped == 0 and len(data.deduplicate(c)) == 40
        assert (ASSETS / f"{lang}-en.tsv").read_bytes() == (FIX / f"{lang}-en.tsv").read_bytes()
    de = data.smoke_corpus("de")
    assert (
        "Ihre Schuhe passen nicht zu Ihrer Kleidung.",
        "Your shoes don't match your clothes.",
    ) in list(de)
    assert ("Hast du das Cricket-Match gesehen?", "Did you see the cricket match?") in list(de)
    assert set(data.load_corpora(["de", "fr"], "smoke")) == {"de", "fr"}
    assert len(data.load_corpora(["es"], FIX)["es"]) == 40


# -- structure and cleaning ---------------------------------------------------------------------


def test_mismatched_counts_name_both():
    with pytest.raises(ValueError, match="de: 2 source sentences but 1 English"):
        ParallelCorpus("de", ["a", "b"], ["x"])


def test_filter_length_words_and_ratio():
    c = ParallelCorpus(
        "de",
        ["eins", "eins zwei drei", "a b c d e f g h i j", "kurz", "x  y"],
        ["one", "one two three", "ten words here", "a b c d e f g h i j", "x\ty"],
    )
    assert data.filter_length(c, min_words=2).src == [
        "eins zwei drei",
        "a b c d e f g h i j",
        "x  y",
    ]
    assert data.filter_length(c, max_words=3).src == ["eins", "eins zwei drei", "x  y"]
    # ratio: 10 vs 3 words is 3.33, 1 vs 10 is 10
    assert data.filter_length(c, max_ratio=3).src == ["eins", "eins zwei drei", "x  y"]
    assert data.filter_length(c, max_ratio=4).src == [
        "eins",
        "eins zwei drei",
        "a b c d e f g h i j",
        "x  y",
    ]


def test_filter_length_spares_languages_without_spaces():
    zh = ParallelCorpus("zh", ["我们需要一个共同的能源政策。"], ["We need a common energy policy."])
    assert len(data.filter_length(zh, max_ratio=2)) == 1
    assert len(data.filter_length(zh, max_ratio=2, src_has_spaces=True)) == 0


def test_deduplicate_is_whitespace_insensitive():
    c = ParallelCorpus("fr", ["a b", "a  b", "a b", "c"], ["x", "x", "y", "x"])
    assert list(data.deduplicate(c)) == [("a b", "x"), ("a b", "y"), ("c", "x")]
    assert data.deduplicate(c, by="src").src == ["a b", "c"]
    assert data.deduplicate(c, by="en").en == ["x", "y"]


def test_shuffle_is_a_seeded_permutation():
    c = corpus(50)
    a, b, other = data.shuffle(c, 1), data.shuffle(c, 1), data.shuffle(c, 2)
    assert a.src == b.src and a.src != other.src and a.src != c.src
    assert sorted(a.src) == sorted(c.src)
    assert all(s.split()[1] == e.split()[1] for s, e in a)  # pairs stay aligned


# -- sampling -----------------------------------------------------------------------------------


def test_take_subsamples_without_repeats():
    out, info = data.take_pairs(corpus(100), 30, seed=0)
    assert len(out) == 30 and len(set(out.src)) == 30
    assert not info.upsampled and info.passes == 1 and str(info) == "de: 30 of 100 pairs"


def test_take_upsamples_deterministically():
    c = corpus(7)
    out, info = data.take_pairs(c, 25, seed=3)
    counts = Counter(out.src)
    assert len(out) == 25 and set(counts) == set(c.src)
    assert sorted(counts.values()) == [3] * 3 + [4] * 4  # 25 = 3 * 7 + 4
    assert (info.upsampled, info.passes, info.min_copies, info.max_copies) == (True, 4, 3, 4)
    assert "25 pairs upsampled from 7" in str(info) and "3-4 times" in str(info)
    assert len(set(out.src[:7])) == 7  # each pass is a permutation
    again, _ = data.take_pairs(c, 25, seed=3)
    assert again.src == out.src and data.take_pairs(c, 25, seed=4)[0].src != out.src
    assert all(s.split()[1] == e.split()[1] for s, e in out)


def test_take_from_empty_corpus_raises():
    with pytest.raises(ValueError, match="empty corpus"):
        data.take_pairs(corpus(0), 5)


def test_train_dev_split_has_no_overlap():
    c = ParallelCorpus("de", [f"s{i % 30}" for i in range(60)], [f"e{i % 30}" for i in range(60)])
    train, dev = data.train_dev_split(c, 10, seed=0)
    assert len(dev) == 10
    assert not set(train) & set(dev)
    assert len(train) == 60 - 10 - 10  # the duplicates of dev pairs were removed from train
    train2, dev2 = data.train_dev_split(c, 0.25, seed=0)
    assert len(dev2) == 15
    assert data.train_dev_split(c, 10, seed=0)[1].src == dev.src


def test_prepare_language_filters_dedups_and_upsamples():
    c = ParallelCorpus(
        "fr",
        ["un deux", "un deux", "trois"] + ["mot " * 100],
        ["one two", "one two", "three"] + ["word"],
    )
    out, info = data.prepare_language(c, 10, seed=0)
    assert (info.available, info.requested) == (2, 10)
    assert Counter(out.src) == {"un deux": 5, "trois": 5}


def test_prepare_language_leaves_out_what_training_could_not_embed():
    """Issue 14, item 2: a 60-pair corpus with such pairs used to fail at step 3, on every
    resume; now they are left out and counted, and every batch of every epoch embeds."""
    src = [f"Satz Nummer {i}." for i in range(60)]
    en = [f"Sentence number {i}." for i in range(60)]
    src[13], en[27], src[44] = "\u200b \u200b", "!!!", "\u00a0\u2003"
    out, info = data.prepare_language(ParallelCorpus("de", src, en), 57, seed=0)
    assert info.removed == {
        "source side has only invisible characters (zero-width, format or control characters)": 1,
        "English side has only punctuation or symbols": 1,
        "empty source side": 1,
    }
    assert info.available == 57 and "removed before: 1 source side has only" in str(info)
    for batch in data.language_batches({"de": out}, 4, seed=0, epochs=2):
        for s, e in zip(*batch["de"], strict=True):
            words_of([s], "de"), words_of([e], "en")


def test_prepare_language_counts_duplicates_and_junk_lines():
    """Issue 14, item 6: duplicates were removed uncounted; a 100k-character line (no spaces:
    one "word" for the word-count filter) and a 150-character token were trained on."""
    src = ["Ein Satz.", "Ein  Satz.", "Zwei Sätze.", "x" * 100_000, f"Siehe {'a' * 150}."]
    en = ["One sentence.", "One sentence.", "Two sentences.", "A line.", "See the link."]
    out, info = data.prepare_language(ParallelCorpus("de", src, en), 4, seed=0)
    assert set(out) == {("Ein Satz.", "One sentence."), ("Zwei Sätze.", "Two sentences.")}
    assert info.removed == {
        "longer than 1000 characters": 1,
        "a word longer than 100 characters": 1,
        "duplicate": 1,
    }
    # the bounds are arguments (None: off); in a language without spaces a sentence is one
    # word to Moses, so one over 100 characters would not fit into max_length subwords either
    assert data.prepare_language(ParallelCorpus("de", src, en), 4, max_word_chars=None)[
        1
    ].removed == {"longer than 1000 characters": 1, "duplicate": 1}
    zh = ParallelCorpus("zh", ["我" * 100, "我" * 101, "你" * 1001], ["I.", "I am.", "You."])
    assert data.prepare_language(zh, 1)[1].removed == {
        "a word longer than 100 characters": 1,
        "longer than 1000 characters": 1,
    }


# -- batches ------------------------------------------------------------------------------------


def corpora() -> dict[str, ParallelCorpus]:
    return {"de": corpus(20, "de", "de "), "fr": corpus(26, "fr", "fr ")}


def test_batches_are_equal_sized_per_language_and_cover_an_epoch():
    batches = list(data.language_batches(corpora(), 4, seed=0))
    assert len(batches) == data.steps_per_epoch(corpora(), 4) == 5  # 20 // 4
    for b in batches:
        assert list(b) == ["de", "fr"]
        assert all(len(src) == len(en) == 4 for src, en in b.values())
        for src, en in b.values():
            assert all(s.split()[-1] == e.split()[-1] for s, e in zip(src, en, strict=True))
    de_seen = [s for b in batches for s in b["de"][0]]
    assert sorted(de_seen) == sorted(corpora()["de"].src)  # every de pair once
    fr_seen = [s for b in batches for s in b["fr"][0]]
    assert len(set(fr_seen)) == 20  # no repeats within an epoch


def test_batches_are_deterministic_by_seed_and_change_per_epoch():
    a = list(data.language_batches(corpora(), 4, seed=7, epochs=2))
    b = list(data.language_batches(corpora(), 4, seed=7, epochs=2))
    c = list(data.language_batches(corpora(), 4, seed=8, epochs=2))
    assert a == b and a != c and len(a) == 10
    assert [x["de"] for x in a[:5]] != [x["de"] for x in a[5:]]


def test_resume_from_step_k_equals_the_tail():
    full = list(data.language_batches(corpora(), 3, seed=1, epochs=3))
    for k in (0, 1, 6, 7, 17):
        tail = list(data.language_batches(corpora(), 3, seed=1, epochs=3, start_step=k))
        assert tail == full[k:]
    it = data.language_batches(corpora(), 3, seed=1, epochs=3)
    head = list(islice(it, 4))
    assert head + list(data.language_batches(corpora(), 3, seed=1, epochs=3, start_step=4)) == full


def test_batches_need_enough_pairs():
    with pytest.raises(ValueError, match="de has 20 pairs, fewer than batch_size 32"):
        next(data.language_batches(corpora(), 32))


# -- held-out pairs (chapter 5's before/after comparison) --------------------------------------


def test_held_out_pairs_are_seeded_sorted_and_drawn_from_the_corpus():
    pool = list(data.smoke_corpus("de"))
    pairs = data.held_out_pairs("de", 5, "smoke", seed=3)
    assert pairs == data.held_out_pairs("de", 5, "smoke", seed=3)
    assert pairs != data.held_out_pairs("de", 5, "smoke", seed=4)
    idx = [pool.index(p) for p in pairs]
    assert len(set(idx)) == 5 and idx == sorted(idx)  # distinct, in corpus order


def test_held_out_pairs_stop_at_the_pool_and_need_k():
    pool = list(data.smoke_corpus("fr"))
    assert data.held_out_pairs("fr", len(pool) + 10, "smoke") == pool
    with pytest.raises(ValueError, match="k must be at least 1, got 0"):
        data.held_out_pairs("fr", 0, "smoke")


# -- the smoke corpora cache -------------------------------------------------------------------


def test_write_smoke_cache_lays_out_what_corpora_reads(tmp_path):
    root = data.write_smoke_cache(tmp_path / "corpora", ["de", "fr"])
    assert root == tmp_path / "corpora"
    for lang in ("de", "fr"):
        rows = {
            split: [json.loads(x) for x in (root / "pairs" / lang / f"{split}.jsonl").open()]
            for split in ("train", "dev", "test")
        }
        assert [(r["src"], r["en"]) for r in rows["train"]] == list(data.smoke_corpus(lang))
        assert rows["test"] == rows["train"] and rows["dev"] == rows["train"][:8]
        counts = json.loads((root / "pairs" / lang / "counts.json").read_text())
        assert counts == {"seed": 0, "counts": {"smoke": {"train": 40, "dev": 8, "test": 40}}}
        lexicon = json.loads((root / "lexicons" / f"{lang}.json").read_text())
        assert lexicon["meta"] == {"source": "smoke"}
        assert {k: set(v) for k, v in lexicon["entries"].items()} == data.SMOKE_LEXICON[lang]
    items = [json.loads(x) for x in (root / "sections" / "items.jsonl").open()]
    assert len(items) == 80 and Counter(i["split"] for i in items) == {
        "train": 48,
        "dev": 16,
        "test": 16,
    }
    meta = json.loads((root / "sections" / "meta.json").read_text())
    assert meta == {"languages": ["de", "fr"], "labels": ["home", "town", "work"], "seed": 0}
    assert not list(root.rglob("*.tmp"))  # written atomically, nothing left behind


# -- no import cycle -------------------------------------------------------------------------------

WORDOT = Path(data.__file__).parents[1]


def _module_files(name: str) -> list[Path]:
    """The file that importing wordot module ``name`` runs (a package's ``__init__.py``, as
    Python prefers it to a module of the same name); none for a name that is not a module."""
    rel = Path(*name.split("."))
    package = WORDOT.parent / rel
    if (package / "__init__.py").is_file():
        return [package / "__init__.py"]
    module = WORDOT.parent / rel.parent / f"{rel.name}.py"
    return [module] if module.is_file() else []


def _wordot_imports(path: Path) -> set[str]:
    """Every ``wordot...`` name that ``path`` imports, at module level or inside functions."""
    parts = path.relative_to(WORDOT.parent).with_suffix("").parts
    package = parts if path.name == "__init__.py" else parts[:-1]
    package = package[:-1] if package[-1] == "__init__" else package
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names |= {module} | {f"{module}.{a.name}" for a in node.names}
    return {n for n in names if n == "wordot" or n.startswith("wordot.")}


def test_nothing_that_data_imports_imports_data_back():
    """wordot.data may use wordot.corpora (offline corpora), never the other way round."""
    todo = [n for f in (WORDOT / "data").rglob("*.py") for n in _wordot_imports(f)]
    seen: set[str] = set()
    back = []
    while todo:
        name = todo.pop()
        if name in seen or name == "wordot.data" or name.startswith("wordot.data."):
            continue
        seen.add(name)
        for file in _module_files(name):
            imports = _wordot_imports(file)
            back += [
                f"{file.name} imports {n}"
                for n in imports
                if n.split(".")[:2] == ["wordot", "data"]
            ]
            todo += imports
    assert "wordot.corpora" in seen and "wordot.hub" in seen
    assert not back, back
