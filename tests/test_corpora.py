"""wordot.corpora on small files cut from the real downloads (offline, a few seconds).

A real build (apt + pip, ~250 MB) runs only with WORDOT_NETWORK_TESTS=1.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from wordot import corpora as C
from wordot.corpora import cli, context, ddtp, freedict, gettext, sections
from wordot.languages import OFFLINE
from wordot.paths import CorruptFileError, read_jsonl, write_jsonl

FIX = Path(__file__).parent / "fixtures" / "corpora"


# -- sentences and descriptions ----------------------------------------------------------------


def test_split_sentences_is_conservative():
    s = C.split_sentences
    assert s("It is fast. It is small!  Is it? Yes.") == [
        "It is fast.",
        "It is small!",
        "Is it?",
        "Yes.",
    ]
    # abbreviations, initials, numbers and lower case do not end a sentence
    assert len(s("Tools, e.g. Foo and Bar. Done.")) == 2
    assert len(s("Written by J. R. Hacker in Berlin.")) == 1
    assert len(s("Erschienen am 3. Mai. Neu.")) == 2
    assert len(s("Supports z.B. Ogg und Flac.")) == 1
    assert len(s("See foo.bar. and more")) == 1
    assert s("Version 2.0 is out. It works.") == ["Version 2.0 is out.", "It works."]
    # Chinese full stops end a sentence without a space; quotes stay with their sentence
    assert s("这是一个库。它很快！") == ["这是一个库。", "它很快！"]
    assert s('He said "Go." Then left.') == ['He said "Go."', "Then left."]


def test_parse_description_paragraphs_bullets_and_preformatted():
    en = [
        "Intro line one",
        "continues here.",
        ".",
        "Features:",
        " * fast",
        "   and small",
        " * free",
        ".",
        "  $ foo --bar",
    ]
    fr = [
        "Intro.",
        ".",
        "Fonctions :",
        " — rapide",
        " et petit ;",
        " –⋅libre.",
        ".",
        "  $ foo --bar",
    ]
    be, bf = C.parse_description(en), C.parse_description(fr)
    assert [b.kind for b in be] == ["p", "p", "li", "li", "pre"] == [b.kind for b in bf]
    assert be[0].text == "Intro line one continues here."
    assert be[2].text == "fast and small"
    assert bf[2].text == "rapide et petit ;" and bf[3].text == "libre."


def _fixture_descriptions(lang: str) -> dict[str, tuple[str, list[str]]]:
    out = {}
    for st in C.iter_deb822(FIX / f"Translation-{lang}"):
        out[st["Description-md5"]] = C.description_lines(st, f"Description-{lang}")
    return out


def test_ddtp_join_on_md5_and_align():
    en, de = _fixture_descriptions("en"), _fixture_descriptions("de")
    assert set(de) == set(en) and len(en) == 6
    # 0ad: "500 B.C. and 500 A.D. The project" is not split (abbreviation), so the paragraph
    # has 2 English and 3 German sentences and only the short descriptions pair
    md5 = "d943033bedada21853d2ae54a2578a7b"
    pairs, why = C.align_descriptions(*en[md5], *de[md5])
    assert why is None
    assert pairs == [
        (
            "Echtzeit-Strategiespiel über antike Kriegsführung",
            "Real-time strategy game of ancient warfare",
        )
    ]
    # 2ping: the paragraph's two sentences pair up
    pairs, why = C.align_descriptions(
        *en["2543c220a763445976d1348c5b593743"], *de["2543c220a763445976d1348c5b593743"]
    )
    assert len(pairs) == 3 and pairs[1] == (
        "2ping ist ein bidirektionales Ping-Hilfswerkzeug.",
        "2ping is a bi-directional ping utility.",
    )
    # aa3d: three list items pair up one to one
    pairs, why = C.align_descriptions(
        *en["258e8b120f0545ac1a4843f1beb1ded5"], *de["258e8b120f0545ac1a4843f1beb1ded5"]
    )
    assert why is None
    assert ("hochkonfigurierbar", "Highly configurable") in pairs
    # at: the German has a preformatted table where the English has a paragraph: only the short
    # descriptions pair
    pairs, why = C.align_descriptions(
        *en["97e204a9f4ad8c681dbd54ec7c505251"], *de["97e204a9f4ad8c681dbd54ec7c505251"]
    )
    assert why == "blocks" and pairs == [
        (
            "Verzögerte Kommandoausführung und Stapelverarbeitung",
            "Delayed job execution and batch processing",
        )
    ]


def test_packages_fields_and_sections():
    stanzas = list(
        C.iter_deb822(FIX / "Packages", ["Package", "Source", "Section", "Description-md5"])
    )
    assert len(stanzas) == 6 and "Version" not in stanzas[0]
    by_name = {s["Package"]: s for s in stanzas}
    assert by_name["at"]["Source"] == "at (3.2.5-1)" and by_name["at"]["Section"] == "admin"
    assert C.SECTION_GROUPS["games"] == "games" and C.SECTION_GROUPS["math"] == "science"
    assert "utils" not in C.SECTION_GROUPS and "libs" not in C.SECTION_GROUPS


# -- gettext -------------------------------------------------------------------------------------


def test_parse_po_fixture():
    entries = C.parse_po((FIX / "django-de.po").read_text(encoding="utf-8"))
    by_id = {(e.msgctxt, e.msgid): e for e in entries}
    assert len(entries) == 10  # the header is not a message
    assert by_id[(None, "Delete multiple objects")].msgstr == "Mehrere Objekte löschen"
    assert "python-format" in by_id[(None, "Cannot delete %(name)s")].flags
    plural = by_id[(None, "%(count)s %(name)s was changed successfully.")]
    assert plural.msgid_plural and len(plural.msgstr_plural) == 2
    long = by_id[
        (
            None,
            "Please enter the correct %(username)s and password for a staff account. Note that both fields may be case-sensitive.",
        )
    ]
    assert long.msgstr.endswith("Groß-/Kleinschreibung.")
    assert by_id[("abbrev. month", "March")].msgstr == "März"
    referrer = next(e for e in entries if e.msgid.startswith("If you are using"))
    assert '<meta name="referrer" content="no-referrer">' in referrer.msgid  # \" unescaped


def test_parse_po_fuzzy_obsolete_and_escapes():
    text = "\n".join(
        [
            "#, fuzzy",
            'msgid "Open file"',
            'msgstr "Datei öffnen"',
            "",
            '#~ msgid "Old"',
            '#~ msgstr "Alt"',
            "",
            'msgid "Tab\\tand\\nnewline"',
            'msgstr "Tab\\tund\\nZeile"',
            'msgid "Next entry without blank line"',
            'msgstr "Nächster Eintrag"',
        ]
    )
    entries = C.parse_po(text)
    assert [e.msgid for e in entries] == [
        "Open file",
        "Tab\tand\nnewline",
        "Next entry without blank line",
    ]
    assert entries[0].flags == {"fuzzy"} and not entries[1].flags
    stats = collections.Counter()
    pairs = list(C.catalogue_pairs(entries, stats))
    assert stats["fuzzy"] == 1
    assert pairs[0] == ("Tab und Zeile", "Tab and newline")


def test_catalogue_pairs_drop_placeholders_plurals_markup():
    entries = C.parse_po((FIX / "django-de.po").read_text(encoding="utf-8"))
    stats = collections.Counter()
    pairs = list(C.catalogue_pairs(entries, stats))
    assert stats == {"placeholder": 2, "plural": 1, "markup": 2}
    assert ("Bitte eine gültige Adresse eingeben.", "Enter a valid URL.") in pairs
    assert ("März", "March") in pairs and len(pairs) == 5


@pytest.mark.parametrize(
    ("msgid", "msgstr", "expected"),
    [
        ("Delete %(name)s", "%(name)s löschen", "placeholder"),
        ("Got %s items", "%s Elemente", "placeholder"),
        ("%d%% done", "%d%% fertig", "placeholder"),
        ("About %1", "Über %1", "placeholder"),
        ("Hello {0}", "Hallo {0}", "placeholder"),
        ("Hello {name}", "Hallo {name}", "placeholder"),
        ("Go <b>now</b>", "Jetzt <b>los</b>", "markup"),
        ("Tom &amp; Jerry", "Tom &amp; Jerry", "markup"),
        ("Save", "", "empty"),
        ("&File", "&Datei", ("Datei", "File")),
        ("Open &Recent", "Zuletzt &geöffnet", ("Zuletzt geöffnet", "Open Recent")),
        ("&Open file", "打开文件(&O)", ("打开文件", "Open file")),
        ("Save & Close", "Speichern & Schließen", ("Speichern & Schließen", "Save & Close")),
        ("100%% sure", "100%% sicher", ("100% sicher", "100% sure")),
        (
            "Line one\nline two",
            "Zeile eins\nZeile zwei",
            ("Zeile eins Zeile zwei", "Line one line two"),
        ),
    ],
)
def test_clean_message(msgid, msgstr, expected):
    assert C.clean_message(msgid, msgstr) == expected


def test_jupyterlab_json_entries():
    data = json.loads((FIX / "jupyterlab-de.json").read_text(encoding="utf-8"))
    entries = C.entries_from_jupyterlab_json(data)
    assert len(entries) == 6  # without the header
    ctx = {e.msgid: e.msgctxt for e in entries}
    assert ctx["Launcher Error"] == "Error" and ctx["Add Checkpoint"] is None
    stats = collections.Counter()
    pairs = list(C.catalogue_pairs(entries, stats))
    assert stats == {"plural": 1, "placeholder": 1}
    assert ("Befehlspalette aktivieren", "Activate Command Palette") in pairs


# -- dictd, OSIS, filters --------------------------------------------------------------------------


def test_dictd_numbers_and_entries():
    assert C.dictd_number("A") == 0 and C.dictd_number("b") == 27 and C.dictd_number("BA") == 64
    entries = list(C.read_dictd(FIX / "freedict-deu-eng.index", FIX / "freedict-deu-eng.dict.dz"))
    assert len(entries) == 5  # 00database* metadata left out
    head, tr = C.parse_dictd_entry(entries[1])
    assert head == "Müllgebühr" and tr == ["waste disposal charge", "waste disposal fee"]
    head, tr = C.parse_dictd_entry(entries[3])
    assert head == "und" and tr == ["and"]  # examples and see: lines dropped


def test_lexicon_forward_and_reversed():
    de = C.lexicon_from_dictd(
        C.read_dictd(FIX / "freedict-deu-eng.index", FIX / "freedict-deu-eng.dict.dz")
    )
    assert de == {"stämmigkeit": {"burliness"}, "und": {"and"}}  # phrases and "Schnell…" dropped
    bg = C.lexicon_from_dictd(
        C.read_dictd(FIX / "freedict-eng-bul.index", FIX / "freedict-eng-bul.dict.dz"),
        reverse=True,
        strip_stress=True,
    )
    assert bg["проповед"] == {"sermon"} and bg["конско"] == {"sermon"}
    assert bg["непокорен"] == {"rebellious"} and bg["абиджан"] == {"abidjan"}
    assert not any(" " in k for k in bg)  # "желязна завеса" is a phrase


def test_turkish_lower_case():
    assert C.lower("İspanya", "tr") == "ispanya" and C.lower("IRMAK", "tr") == "ırmak"
    assert C.lower("IRMAK") == "irmak"


def test_is_word_any_script():
    assert all(C.is_word(w) for w in ["सभ्यता", "وحشي", "υποδέχομαι", "don’t", "e-mail"])
    assert not any(C.is_word(w) for w in ["3d", "a b", "-x", "Schnell…", ""])


def test_osis_to_text():
    web = (
        '<w lemma="strong:H0430">In</w> <w lemma="strong:H0853">the</w> <w lemma="strong:H7225">beginning'
        '</w>, <w lemma="strong:H0430">God</w><note placement="foot"><reference type="annotateRef">1:1 '
        '</reference>The Hebrew word rendered “God” is “אֱלֹהִ֑ים” (Elohim).</note><w lemma="strong:H1254">'
        'created</w> <w>the</w> <w>earth</w>. <div eID="gen25" type="x-p"/>'
    )
    assert C.osis_to_text(web) == "In the beginning, God created the earth."
    psalm = (
        '<title canonical="true" type="psalm">A Psalm by David.</title> <lg sID="g1"/> <l level="1" sID="g2"/>'
        'Yahweh, how my adversaries have increased!<l eID="g2" level="1"/> <l sID="g3" type="selah"/>Selah.'
        '<l eID="g3" type="selah"/><title type="x-heading">Not canonical</title>'
    )
    assert (
        C.osis_to_text(psalm)
        == "A Psalm by David. Yahweh, how my adversaries have increased! Selah."
    )
    assert C.osis_to_text('Amen. <div sID="x" type="glossary"/> Abaddon is Hebrew') == "Amen."
    assert C.osis_to_text("TR &amp;NU read") == "TR &NU read"
    assert C.unshout("EN el principio crió Dios") == "En el principio crió Dios"
    assert C.unshout("¡OH Jehová, cuánto") == "¡Oh Jehová, cuánto"
    assert C.unshout("Y dijo Dios") == "Y dijo Dios"


def test_keep_pair_reasons():
    assert C.keep_pair("Ja", "Yes") == "short"
    assert C.keep_pair("Datei öffnen", "Open file") is None
    assert C.keep_pair("GNU Emacs", "GNU Emacs") == "same"
    assert C.keep_pair("x", "a much longer English sentence here") == "ratio"
    assert C.keep_pair("这是一个很小的库。", "This is a very small library.") is None  # CJK ratio
    assert C.keep_pair("w " * 100, "w " * 90) == "long"


def test_filtered_deduplicates_on_normalised_text():
    stats = collections.Counter()
    rows = C.filter_pairs(
        [("Datei öffnen", "Open file", ""), ("Datei  öffnen.", "open file", ""), ("Ja", "Yes", "")],
        stats,
    )
    assert [r["src"] for r in rows] == ["Datei öffnen"] and stats == {"duplicate": 1, "short": 1}


def test_bucket_and_norm():
    splits = collections.Counter(C.bucket(f"key{i}") for i in range(20000))
    assert abs(splits["test"] / 20000 - 0.10) < 0.01 and abs(splits["dev"] / 20000 - 0.05) < 0.01
    assert C.bucket("pkg:0ad", 0) == C.bucket("pkg:0ad", 0)
    assert sum(C.bucket(f"k{i}", 0) != C.bucket(f"k{i}", 1) for i in range(200)) > 20
    assert C.norm("  Open   File. ") == C.norm("open file") == "open file"


# -- a whole build from the fixtures ----------------------------------------------------------------


class FakeApt:
    """Stands in for :class:`wordot.corpora.Apt`: serves the fixture lists and dictionaries."""

    calls: collections.Counter = collections.Counter()

    def __init__(self, root, languages=(), mirror=None, suite=None):
        self.root, self.mirror, self.suite = Path(root), "fixture://debian", "bookworm"
        self.lists = FIX

    def check_tools(self):
        pass

    def update(self, force=False):
        FakeApt.calls["update"] += 1

    def list_file(self, kind):
        path = FIX / kind
        return path if path.exists() else None

    def release_date(self):
        return "Sat, 11 Jul 2026 10:16:37 UTC"

    def fetch(self, package, dest):
        FakeApt.calls[package] += 1
        name = package.removeprefix("dict-freedict-")
        share = dest / "usr" / "share" / "dictd"
        share.mkdir(parents=True, exist_ok=True)
        for suffix in (".index", ".dict.dz"):
            shutil.copy(FIX / f"freedict-{name}{suffix}", share / f"freedict-{name}{suffix}")
        doc = dest / "usr" / "share" / "doc" / package
        doc.mkdir(parents=True, exist_ok=True)
        (doc / "copyright").write_text(f"Files: {name}/*\nCopyright: FreeDict\nLicense: GPL-2+\n")
        return {"package": package, "version": "2022.04.21-1", "deb": f"{package}.deb"}


def _fake_wheels(reqs, dest):
    """Wheels holding the fixture catalogues, in place of pip download."""
    dest.mkdir(parents=True, exist_ok=True)
    django = dest / "django-5.2.19-py3-none-any.whl"
    with zipfile.ZipFile(django, "w") as zf:
        zf.write(FIX / "django-de.po", "django/contrib/admin/locale/de/LC_MESSAGES/django.po")
    pack = dest / "jupyterlab_language_pack_de_de-4.5.post3-py2.py3-none-any.whl"
    with zipfile.ZipFile(pack, "w") as zf:
        zf.write(
            FIX / "jupyterlab-de.json",
            "jupyterlab_language_pack_de_DE/locale/de_DE/LC_MESSAGES/jupyterlab.json",
        )
    return [django, pack] if len(reqs) > 1 else [django]


@pytest.fixture
def built(tmp_path, monkeypatch):
    monkeypatch.setattr(context, "Apt", FakeApt)
    monkeypatch.setattr(gettext, "pip_download", _fake_wheels)
    monkeypatch.setattr(sections, "MIN_SECTION_GROUP", 1)
    FakeApt.calls.clear()
    cards = C.build(["de"], cache=tmp_path, progress=False)
    return tmp_path, cards


def test_build_from_fixtures(built):
    root, cards = built
    card = cards["de"]
    assert set(card["sources"]) == {"ddtp", "gettext"}  # no Bible for German
    ddtp = json.loads((root / "raw" / "de" / "ddtp.meta.json").read_text())
    assert ddtp["stats"]["descriptions"] == 6 and ddtp["stats"]["long_blocks"] == 1
    assert ddtp["stats"]["sentence_pairs"] == 14
    n = card["sources"]["ddtp"]["pairs"]
    assert sum(n.values()) == len(C.offline_pairs("de", "train", ["ddtp"], root)) + len(
        C.offline_pairs("de", "dev", ["ddtp"], root)
    ) + len(C.offline_pairs("de", "test", ["ddtp"], root))
    assert (
        C.offline_pairs("de", "train", ["gettext"], root)
        + C.offline_pairs("de", "test", ["gettext"], root)
        + C.offline_pairs("de", "dev", ["gettext"], root)
    )
    assert card["sources"]["gettext"]["licence"].startswith("BSD-3-Clause")
    assert card["lexicon"]["licence"] == "GPL-2+" and C.load_lexicon("de", root)["und"] == {"and"}
    md = (root / "cards" / "de.md").read_text()
    assert "| ddtp |" in md and "GPL-2+" in md
    # sections: every fixture package has a kept group; one German text per English one
    en = (
        C.load_sections("en", "train", root)
        + C.load_sections("en", "dev", root)
        + C.load_sections("en", "test", root)
    )
    de = (
        C.load_sections("de", "train", root)
        + C.load_sections("de", "dev", root)
        + C.load_sections("de", "test", root)
    )
    assert len(en) == len(de) == 6
    assert sorted(label for _, label in en) == [
        "admin",
        "games",
        "games",
        "games",
        "graphics",
        "net",
    ]
    assert any(
        text.startswith("Echtzeit-Strategiespiel über antike Kriegsführung 0 A.D.")
        for text, _ in de
    )
    assert C.section_labels(root) == ["admin", "games", "graphics", "net"]


def test_splits_follow_packages_and_are_disjoint(built):
    root, _ = built
    items = list(read_jsonl(root / "sections" / "items.jsonl"))
    assert all(it["split"] == C.bucket(it["group"]) for it in items)
    splits = {s: C.offline_pairs("de", s, cache=root) for s in C.SPLITS}
    keys = {s: {C.norm(en) for _, en in p} for s, p in splits.items()}
    src = {s: {C.norm(x) for x, _ in p} for s, p in splits.items()}
    assert not keys["test"] & (keys["train"] | keys["dev"]) and not keys["dev"] & keys["train"]
    assert not src["test"] & (src["train"] | src["dev"])


def test_build_is_resumable(built, monkeypatch):
    root, _ = built
    mtimes = {p: p.stat().st_mtime_ns for p in (root / "raw").rglob("*.jsonl")}
    lex = (root / "lexicons" / "de.json").stat().st_mtime_ns

    def boom(*args, **kwargs):
        raise AssertionError("a finished step ran again")

    monkeypatch.setattr(ddtp, "align_descriptions", boom)
    monkeypatch.setattr(freedict, "lexicon_from_dictd", boom)
    monkeypatch.setattr(gettext, "catalogue_pairs", boom)
    C.build(["de"], cache=root, progress=False)
    assert {p: p.stat().st_mtime_ns for p in (root / "raw").rglob("*.jsonl")} == mtimes
    assert (root / "lexicons" / "de.json").stat().st_mtime_ns == lex
    assert not list(root.rglob("*.tmp"))


def test_finalize_moves_and_drops_across_sources(tmp_path):
    """An English sentence held out anywhere is held out everywhere."""
    seed = 0
    test_pkg = next(f"pkg:p{i}" for i in range(1000) if C.bucket(f"pkg:p{i}", seed) == "test")
    train_pkg = next(f"pkg:p{i}" for i in range(1000) if C.bucket(f"pkg:p{i}", seed) == "train")
    shared = next(
        f"Shared sentence number {i}"
        for i in range(1000)
        if C.bucket("en:" + C.norm(f"Shared sentence number {i}"), seed) == "train"
    )
    raw = tmp_path / "raw" / "de"
    write_jsonl(
        raw / "ddtp.jsonl",
        [
            {"src": "Geteilter Satz", "en": shared, "group": test_pkg},
            {"src": "Geteilter Satz zwei", "en": shared, "group": train_pkg},
            {"src": "Nur im Training", "en": "Only in training here", "group": train_pkg},
        ],
    )
    write_jsonl(
        tmp_path / "raw" / "fr" / "gettext.jsonl",
        [{"src": "Phrase partagée", "en": shared, "group": ""}],
    )
    write_jsonl(
        raw / "gettext.jsonl", [{"src": "Nur im Training", "en": "Different English", "group": ""}]
    )
    counts = C.finalize(tmp_path, seed)
    test_de = C.offline_pairs("de", "test", cache=tmp_path)
    train_de = C.offline_pairs("de", "train", cache=tmp_path)
    assert test_de == [("Geteilter Satz", shared)]
    assert ("Geteilter Satz zwei", shared) not in train_de  # DDTP pair of a train package: dropped
    assert C.offline_pairs("fr", "test", cache=tmp_path) == [("Phrase partagée", shared)]  # moved
    assert ("Nur im Training", "Only in training here") in train_de
    assert counts["fr"]["gettext"]["test"] == 1


# -- errors and the command line -------------------------------------------------------------------


def test_loaders_name_the_build_command(tmp_path):
    with pytest.raises(C.CorpusError, match=r"python -m wordot corpora --languages de"):
        C.offline_pairs("de", cache=tmp_path)
    with pytest.raises(C.CorpusError, match=r"--steps lexicon"):
        C.load_lexicon("fr", cache=tmp_path)
    with pytest.raises(C.CorpusError, match=r"no zh-English dictionary"):
        C.load_lexicon("zh", cache=tmp_path)
    with pytest.raises(C.CorpusError, match=r"--steps sections"):
        C.load_sections("de", "test", cache=tmp_path)
    with pytest.raises(ValueError, match="split"):
        C.offline_pairs("de", "validation", cache=tmp_path)


def test_missing_source_is_named(built):
    root, _ = built
    with pytest.raises(C.CorpusError, match=r"\['bible'\] not built.*--steps bible"):
        C.offline_pairs("de", "train", sources=["bible"], cache=root)
    C.write_raw(root, "de", "bible", [], {"available": False, "stats": {}})
    with pytest.raises(C.CorpusError, match=r"no de text"):
        C.offline_pairs("de", "train", sources=["bible"], cache=root)


def test_corpora_dir_default(monkeypatch, tmp_path):
    monkeypatch.setenv("WORDOT_CACHE", str(tmp_path))
    assert C.corpora_dir() == tmp_path / "corpora"
    monkeypatch.delenv("WORDOT_CACHE")
    assert C.corpora_dir() == Path("~/.cache/wordot/corpora").expanduser()


def test_apt_config_is_private(tmp_path, monkeypatch):
    monkeypatch.setattr(C.Apt, "_system_source", staticmethod(lambda: (None, "bookworm")))
    monkeypatch.setattr(
        C.Apt, "_system_settings", staticmethod(lambda: ['Acquire::Check-Valid-Until "false";'])
    )
    apt = C.Apt(tmp_path / "apt", ["de", "zh"])
    conf = apt._config().read_text()
    assert f'Dir::State::Lists "{tmp_path / "apt" / "lists"}";' in conf
    assert '"en"; "de"; "zh_CN";' in conf and "/var/lib/apt/lists" not in conf
    assert 'Acquire::Check-Valid-Until "false";' in conf
    sources = (tmp_path / "apt" / "etc" / "sources.list.d" / "debian.sources").read_text()
    assert "URIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main" in sources


def test_missing_tools_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(C.CorpusError, match=r"apt-get, dpkg-deb not found.*--steps gettext"):
        C.Apt(tmp_path).check_tools()


def test_main_reports_errors(tmp_path, monkeypatch, capsys):
    def fail(*args, **kwargs):
        raise C.CorpusError("apt-get failed")

    monkeypatch.setattr(cli, "build", fail)
    assert C.main(["--out", str(tmp_path), "--languages", "de", "--no-progress"]) == 1
    assert "error: apt-get failed" in capsys.readouterr().err


def test_unknown_language_is_a_value_error(tmp_path, capsys):
    known = ", ".join(sorted(OFFLINE))
    with pytest.raises(ValueError, match=rf"unknown language code\(s\) \['xx'\]; known: {known}"):
        C.offline_pairs("xx", cache=tmp_path)
    with pytest.raises(ValueError, match=r"\['xx'\]"):
        C.build(["de", "xx"], cache=tmp_path / "out", progress=False)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--out", str(tmp_path / "out"), "--languages", "xx", "--no-progress"])
    assert exit_info.value.code == 2
    assert f"unknown language code(s) ['xx']; known: {known}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing built, nothing created


def test_corrupt_cache_file_names_the_rebuild_command(built):
    root, _ = built
    path = C.pairs_path(root, "de", "train")
    path.write_text(path.read_text(encoding="utf-8") + "{not json\n", encoding="utf-8")
    rebuild = re.escape(f"--languages de --out {root} --force")
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}, line \d+.*{rebuild}"):
        C.offline_pairs("de", "train", cache=root)


# -- corrupt cache files ------------------------------------------------------------------------------


def _cut_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _drop_last_line(path: Path) -> None:
    """A cut at a line boundary: every line left still parses."""
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:-1]))


def _garble(path: Path) -> None:
    """Bytes that are not UTF-8 in the middle of the file."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] + b"\xff\xfe\x00" + data[len(data) // 2 + 3 :])


def _not_an_object(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"[1, 2]\n")


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file of the cache but the downloads, by relative path."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "downloads" not in p.relative_to(root).parts
    }


RESERVED = f"raw/ddtp-reserved-seed{C.SPLIT_SEED}.json"


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("raw/de/ddtp.jsonl", _cut_half),
        ("raw/de/ddtp.jsonl", _drop_last_line),
        ("raw/de/ddtp.jsonl", _garble),
        ("raw/de/ddtp.jsonl", _not_an_object),
        ("raw/de/ddtp.jsonl", _empty),
        ("raw/de/ddtp.meta.json", _cut_half),
        (RESERVED, _cut_half),
        ("raw/de/gettext.jsonl", _drop_last_line),
        ("lexicons/de.json", _cut_half),
        ("sections/items.jsonl", _drop_last_line),
        ("sections/meta.json", _garble),
    ],
)
def test_corpora_builds_a_corrupt_step_again(built, capsys, caplog, name, damage):
    """A corrupt file of a step (cut short, garbled, emptied) is not taken for a finished step:
    ``python -m wordot corpora`` says so and builds that step again, into the same bytes."""
    root, _ = built
    before = _snapshot(root)
    damage(root / name)
    assert _snapshot(root) != before
    with caplog.at_level(logging.WARNING, logger="wordot.corpora"):
        status = cli.main(["--out", str(root), "--languages", "de", "--no-progress"])
    assert status == 0, capsys.readouterr().err
    assert f"corrupt file {root / name}" in caplog.text and "again" in caplog.text
    assert _snapshot(root) == before


def test_corrupt_file_outside_the_steps_stops_with_the_command(built, capsys):
    """A corrupt file the asked steps do not build: exit 1 with one paragraph naming the file
    and the command that repairs it, and that command does."""
    root, _ = built
    before = _snapshot(root)
    path = C.raw_path(root, "de", "ddtp")
    _cut_half(path)
    status = cli.main(["--out", str(root), "--languages", "de", "--steps", "gettext"])
    err = capsys.readouterr().err.strip()
    assert status == 1
    assert err.startswith(f"error: corrupt file {path}") and "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    command = err.split("Rebuild it with: python -m wordot corpora ")[1].split()
    assert command == ["--languages", "de", "--steps", "ddtp", "--out", str(root), "--force"]
    assert cli.main([*command, "--no-progress"]) == 0
    assert _snapshot(root) == before


@pytest.mark.parametrize(
    ("name", "damage", "load", "command"),
    [
        ("pairs/de/train.jsonl", _drop_last_line, "pairs", "--languages de --out {root} --force"),
        ("pairs/de/train.jsonl", _garble, "pairs", "--languages de --out {root} --force"),
        ("pairs/de/train.jsonl", _not_an_object, "pairs", "--languages de --out {root} --force"),
        ("pairs/de/train.jsonl", _empty, "pairs", "--languages de --out {root} --force"),
        ("pairs/de/counts.json", _cut_half, "pairs", "--languages de --out {root} --force"),
        ("lexicons/de.json", _cut_half, "lexicon", "--steps lexicon --out {root} --force"),
        ("lexicons/de.json", _garble, "lexicon", "--steps lexicon --out {root} --force"),
        (
            "sections/items.jsonl",
            _drop_last_line,
            "sections",
            "--steps sections --out {root} --force",
        ),
        ("sections/items.jsonl", _garble, "sections", "--steps sections --out {root} --force"),
        ("sections/meta.json", _cut_half, "sections", "--steps sections --out {root} --force"),
    ],
)
def test_loaders_name_a_corrupt_file_and_its_rebuild_command(built, name, damage, load, command):
    """Whatever the damage, including a cut at a line boundary (every line left parses, the
    row count recorded beside it does not match), the loaders raise CorruptFileError naming
    the file and the command that rebuilds it."""
    root, _ = built
    loaders = {
        "pairs": lambda: C.offline_pairs("de", "train", cache=root),
        "lexicon": lambda: C.load_lexicon("de", cache=root),
        "sections": lambda: C.load_sections("en", "train", cache=root),
    }
    loaders[load]()
    damage(root / name)
    with pytest.raises(CorruptFileError) as info:
        loaders[load]()
    msg = str(info.value)
    assert f"corrupt file {root / name}" in msg
    assert "Rebuild it with: python -m wordot corpora --languages de " in msg
    assert command.format(root=root) in msg


def test_import_has_no_side_effects():
    """Importing the package changes no umask, creates nothing, and does not pull in
    wordot.data (data may import corpora, never the reverse)."""
    code = (
        "import os, sys\n"
        "calls = []\n"
        "real = os.umask\n"
        "os.umask = lambda mask: calls.append(mask) or real(mask)\n"
        "real(0o027)\n"
        "import wordot.corpora\n"
        "os.umask = real\n"
        "assert not calls, calls\n"
        "assert real(0o022) == 0o027\n"
        "assert 'wordot.data' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(
    os.environ.get("WORDOT_NETWORK_TESTS") != "1", reason="set WORDOT_NETWORK_TESTS=1"
)
def test_real_build_spanish(tmp_path):
    cards = C.build(
        ["es"], steps=["ddtp", "bible", "gettext", "lexicon"], cache=tmp_path, progress=False
    )
    pairs = cards["es"]["sources"]
    assert sum(pairs["bible"]["pairs"].values()) > 25_000
    assert sum(pairs["ddtp"]["pairs"].values()) > 5_000
    assert 300 < sum(pairs["gettext"]["pairs"].values()) < 3_000
    assert len(C.load_lexicon("es", tmp_path)) > 2_000
