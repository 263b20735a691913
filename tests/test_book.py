"""The rendered book: executed copies up to date, and a strict (warnings = errors) build."""

import json
import re

import pytest

from wordot.book import browser, runner

ROOT = runner.project_root()


def test_executed_chapters_are_up_to_date():
    stale = runner.stale_chapters()
    assert not stale, (
        f"executed copies in book/chapters are stale or missing for {stale}: "
        "run `make book` (or `python -m wordot run --chapters ...`) and commit book/chapters"
    )


def test_executed_chapters_are_from_one_real_profile():
    manifest = json.loads((ROOT / "book" / "chapters" / runner.MANIFEST).read_text())
    profiles = {rec["profile"] for rec in manifest["chapters"].values()}
    # the book shows real runs; smoke is for CI only
    assert profiles <= {"cpu", "paper"}, f"book/chapters was executed with {profiles}"


def test_every_chapter_is_in_the_toc():
    toc = (ROOT / "_toc.yml").read_text()
    for chapter in runner.discover():
        assert f"book/chapters/{chapter.name}" in toc, f"{chapter.name} missing from _toc.yml"


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    return runner.build_book(out=out, strict=True)


def test_book_builds_with_warnings_as_errors(html):
    assert (html / "index.html").exists()
    for chapter in runner.discover():
        page = html / "book" / "chapters" / f"{chapter.name}.html"
        assert page.exists(), f"{page} not rendered"


def test_chapters_render_figures_equations_and_citations(html):
    for chapter in runner.discover():
        text = (html / "book" / "chapters" / f"{chapter.name}.html").read_text()
        assert len(re.findall(r"<img [^>]*src=", text)) >= 2, (
            f"{chapter.name}: fewer than 2 figures"
        )
        assert "math notranslate" in text, f"{chapter.name}: no rendered equation"
        assert 'href="../bibliography.html#id' in text or "bibliography.html#" in text, (
            f"{chapter.name}: no citation link"
        )
    bib = (html / "book" / "bibliography.html").read_text()
    assert "sinkhorn distances" in bib.lower()
    assert "optimal transport as alignment objective" in bib.lower()


@pytest.mark.skipif(browser.find_chromium() is None, reason="no Chromium on PATH")
def test_every_page_reads_clean_in_a_browser(html, tmp_path):
    """The committed book as headless Chromium shows it (tools/check_book.py): MathJax typeset
    every formula offline, images load, internal links resolve, outputs show no plumbing."""
    report = browser.check_book(html, tmp_path / "browser-check", progress=False)
    assert report.ok, report.summary()
    assert len(report.screenshots) == len(runner.discover())
