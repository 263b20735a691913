"""wordot.book.browser: what the browser check finds on a rendered page."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from wordot.book import browser


def _png() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (4, 3), "white").save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _page(tmp_path: Path, body: str, name: str = "chapter.html") -> tuple[str, Path]:
    html = f"<html><body><main>{body}</main></body></html>"
    page = tmp_path / name
    page.write_text(html)
    return html, page


def _kinds(problems: list[browser.Problem]) -> list[str]:
    return [p.kind for p in problems]


def test_a_clean_page_has_no_problems(tmp_path):
    (tmp_path / "other.html").write_text('<html><body><h1 id="sec-a">A</h1></body></html>')
    (tmp_path / "fig.png").write_bytes(base64.b64decode(_png()))
    html, page = _page(
        tmp_path,
        '<p>Prose with <span class="math"><mjx-container>x</mjx-container></span> and '
        "<code>$\\varepsilon$ in code</code> and a price of $5 and $6.</p>"
        '<div class="highlight"><pre>eps = "\\alpha"</pre></div>'
        '<dl><dt class="sig">clouds(labels=("$\\alpha$", "$\\beta$"))</dt></dl>'
        f'<img src="data:image/png;base64,{_png()}"><img src="fig.png">'
        '<a href="other.html#sec-a">a</a><a href="#top">top</a><span id="top"></span>'
        '<a href="https://example.org">remote links are not followed</a>'
        '<div class="cell_output"><pre>evaluation data: $WORDOT_DATA/xnli\nloss 0.5</pre></div>',
    )
    assert browser.page_problems(html, page, tmp_path) == []


def test_tex_left_in_prose_is_found_and_quoted(tmp_path):
    html, page = _page(tmp_path, "<p>the plan ( Which \\varepsilon, which cost ) and $$x$$</p>")
    problems = browser.page_problems(html, page, tmp_path)
    assert set(_kinds(problems)) == {"latex"}
    assert "\\\\varepsilon" in problems[0].detail and "Which" in problems[0].detail
    assert any("'$$'" in p.detail for p in problems)


def test_math_that_mathjax_never_typeset_is_found(tmp_path):
    html, page = _page(tmp_path, '<p><span class="math notranslate">\\(x\\)</span></p>')
    details = [p.detail for p in browser.page_problems(html, page, tmp_path)]
    assert "the page has math but MathJax typeset none of it" in details


def test_images_that_would_not_load_are_found(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not a png")
    html, page = _page(
        tmp_path,
        '<img src="missing.png"><img src="broken.png">'
        '<img src="data:image/png;base64,AAAA"><img src="https://example.org/x.png">',
    )
    details = [p.detail for p in browser.page_problems(html, page, tmp_path)]
    assert details[0] == "missing file missing.png"
    assert details[1].startswith("broken.png does not decode")
    assert details[2].startswith("data URI does not decode")
    assert details[3] == "remote image (the book must render offline)"


def test_broken_internal_links_and_anchors_are_found(tmp_path):
    (tmp_path / "other.html").write_text('<html><body><h1 id="sec-a">A</h1></body></html>')
    html, page = _page(
        tmp_path, '<a href="nowhere.html">x</a><a href="other.html#sec-b">y</a><a href="#z">z</a>'
    )
    details = [p.detail for p in browser.page_problems(html, page, tmp_path)]
    assert details == [
        "nowhere.html: no such page",
        "other.html#sec-b: no anchor #sec-b",
        "#z: no anchor #z",
    ]


@pytest.mark.parametrize(
    ("output", "kind"),
    [
        ('Traceback (most recent call last):\n  File "x.py"', "traceback"),
        ("TqdmWarning: IProgress not found", "warning"),
        ("train:  45%|████▌     | 9/20 [00:10<00:12]", "progress bar"),
        ("record /home/ana/wordot/runs/cpu/x.json: computed", "local path"),
        ("corpora cache: /work/cache/corpora", "local path"),
    ],
)
def test_plumbing_in_outputs_is_found(tmp_path, output, kind):
    html, page = _page(tmp_path, f'<div class="cell_output"><pre>{output}</pre></div>')
    problems = browser.page_problems(html, page, tmp_path)
    assert _kinds(problems) == ["output"] and problems[0].detail.startswith(kind)


def test_anything_on_stderr_is_found(tmp_path):
    html, page = _page(tmp_path, '<div class="output stderr"><pre>loading weights</pre></div>')
    problems = browser.page_problems(html, page, tmp_path)
    assert _kinds(problems) == ["output"] and "stderr" in problems[0].detail


def test_book_pages_skip_sphinx_pages_and_redirects(tmp_path):
    for name in ("index.html", "search.html", "genindex.html", "book/intro.html", "_static/a.html"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("<html><body>page</body></html>")
    (tmp_path / "index.html").write_text(
        '<html><head><meta http-equiv="Refresh" content="0; url=book/intro.html" /></head></html>'
    )
    assert browser.book_pages(tmp_path) == [tmp_path / "book" / "intro.html"]


def test_check_book_says_how_to_get_chromium(tmp_path, monkeypatch):
    monkeypatch.setattr(browser, "find_chromium", lambda: None)
    with pytest.raises(FileNotFoundError, match="apt-get install chromium"):
        browser.check_book(tmp_path, tmp_path / "out")


def test_check_book_needs_a_built_book(tmp_path):
    with pytest.raises(FileNotFoundError, match="make html"):
        browser.check_book(tmp_path, tmp_path / "out", chromium="/bin/true")


@pytest.mark.skipif(browser.find_chromium() is None, reason="no Chromium on PATH")
def test_chromium_runs_the_page_scripts_before_the_dom_is_read(tmp_path):
    page = tmp_path / "book" / "chapters" / "c.html"
    page.parent.mkdir(parents=True)
    page.write_text(
        "<html><body><main><p id='p'>\\(x\\)</p></main><script>"
        "document.getElementById('p').innerHTML = '<mjx-container>x</mjx-container>';"
        "</script></body></html>"
    )
    (tmp_path / "index.html").write_text("<html><body>start</body></html>")
    dom = browser.rendered_dom(page, browser.find_chromium())
    assert "<mjx-container>x</mjx-container>" in dom  # the script ran
    report = browser.check_book(tmp_path, tmp_path / "out", progress=False)
    assert report.ok, report.summary()
    assert report.pages == ["book/chapters/c.html", "index.html"]
    assert [Path(s).name for s in report.screenshots] == ["c.png"]
    with Image.open(report.screenshots[0]) as shot:
        assert shot.size == (1280, 2400)
