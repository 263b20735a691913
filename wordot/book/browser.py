"""The rendered book as a reader's browser shows it: every page opened in headless Chromium.

:func:`check_book` opens each HTML page of a built book with Chromium (``--dump-dom`` after a
virtual-time budget, so MathJax has typeset the page offline) and reports, per page:

* ``latex``: TeX left in the visible text (``\\varepsilon``, ``$$``, ``\\frac{``...) after MathJax
  ran, or a page with math on which MathJax typeset nothing;
* ``image``: an ``<img>`` whose file is missing or does not decode (data URIs included);
* ``link``: an internal link to a page or an anchor that does not exist;
* ``output``: a cell output that shows plumbing instead of results: a traceback, a warning, a
  progress bar, anything on stderr, or a machine-specific path (``/home/...``, ``/tmp/...``).

It also saves a screenshot of each chapter (:func:`screenshot`) for a person to look at. The
checks on a page's DOM (:func:`page_problems`) are plain functions of its HTML, tested without a
browser; only :func:`rendered_dom` and :func:`screenshot` need Chromium (:func:`find_chromium`).
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = [
    "Problem",
    "BookReport",
    "find_chromium",
    "rendered_dom",
    "screenshot",
    "page_problems",
    "book_pages",
    "check_book",
]

#: TeX that MathJax should have turned into math: a control word of the book's vocabulary, an
#: environment, display dollars, or inline dollars around TeX
RAW_TEX = re.compile(
    r"\\(?:varepsilon|epsilon|alpha|beta|gamma|lambda|mathrm|mathcal|mathbb|frac|sum|min|max|log"
    r"|exp|otimes|langle|rangle|left|right|text|le|ge|to|in|mid|sqrt|cdot|times|pi|rho|sigma)\b"
    r"|\\begin\{|\\\(|\\\[|\$\$|\$[^$\n]*[\\^_][^$\n]*\$"
)
#: what a cell output must not show a reader
PLUMBING = {
    "traceback": re.compile(r"Traceback \(most recent call last\)"),
    "warning": re.compile(r"\b[A-Z]\w*Warning\b|^WARNING\b|\bwarnings\.warn\b", re.MULTILINE),
    "progress bar": re.compile(r"\d+%\|[^|\n]*\|\s*\d+/\d+"),
    "local path": re.compile(r"(?<![\w$~])/(?:home|tmp|root|work|Users|var/folders)/[\w.-]+"),
}
#: elements whose text is code or already typeset math, not prose
NOT_PROSE = {"script", "style", "pre", "code", "mjx-container", "textarea", "svg", "math"}


@dataclass(frozen=True)
class Problem:
    """One defect a reader would meet: ``page`` (relative to the HTML root), ``kind`` (latex,
    image, link, output, browser) and what it is."""

    page: str
    kind: str
    detail: str


@dataclass
class BookReport:
    """What :func:`check_book` found: the pages opened, the problems, the screenshots written
    and the wall time in seconds."""

    pages: list[str]
    problems: list[Problem] = field(default_factory=list)
    screenshots: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        head = (
            f"{len(self.pages)} pages opened in Chromium, {len(self.screenshots)} screenshots, "
            f"{len(self.problems)} problem(s), {self.seconds:.0f} s"
        )
        return "\n".join([head, *(f"  {p.page}: [{p.kind}] {p.detail}" for p in self.problems)])


def find_chromium() -> str | None:
    """The path of a Chromium (or Chrome) executable on PATH, else None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _chromium(chromium: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    cmd += ["--disable-dev-shm-usage", "--no-first-run", "--allow-file-access-from-files", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def rendered_dom(page: Path, chromium: str, budget_ms: int = 3000) -> str:
    """The DOM of ``page`` after its scripts ran (MathJax included), as Chromium serialises it."""
    done = _chromium(
        chromium, f"--virtual-time-budget={budget_ms}", "--dump-dom", page.resolve().as_uri()
    )
    if done.returncode != 0 or "<html" not in done.stdout:
        raise RuntimeError(f"Chromium could not render {page}: {done.stderr.strip()[-500:]}")
    return done.stdout


def screenshot(page: Path, out: Path, chromium: str, size: tuple[int, int] = (1280, 2400)) -> Path:
    """Save a PNG of the top ``size`` (width, height in CSS pixels) of ``page`` to ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    done = _chromium(
        chromium,
        "--virtual-time-budget=3000",
        f"--window-size={size[0]},{size[1]}",
        f"--screenshot={out.resolve()}",
        page.resolve().as_uri(),
    )
    if not out.is_file():
        raise RuntimeError(f"Chromium wrote no screenshot of {page}: {done.stderr.strip()[-500:]}")
    return out


def _soup(html: str):
    from bs4 import BeautifulSoup  # a dependency of the book's Sphinx theme

    return BeautifulSoup(html, "html.parser")


def _prose_text(node) -> str:
    """The visible text of ``node`` outside code and typeset math."""
    from bs4 import NavigableString, Tag

    parts: list[str] = []

    def walk(n) -> None:
        for child in n.children:
            if isinstance(child, Tag):
                classes = set(child.get("class") or [])
                if child.name in NOT_PROSE or classes & {"highlight", "sig"}:
                    continue  # code, typeset math, or an API signature (code too)
                walk(child)
            elif isinstance(child, NavigableString) and type(child).__name__ == "NavigableString":
                parts.append(str(child))

    walk(node)
    return " ".join(parts)


def _image_problem(src: str, page: Path) -> str | None:
    """Why the image ``src`` of ``page`` would not load, or None."""
    from PIL import Image

    if src.startswith("data:"):
        header, _, payload = src.partition(",")
        if "image/svg" in header:
            return None if "<svg" in unquote(payload) or ";base64" in header else "empty SVG"
        try:
            Image.open(io.BytesIO(base64.b64decode(payload))).verify()
        except Exception as err:  # noqa: BLE001 -- any decoding failure is the finding
            return f"data URI does not decode ({type(err).__name__})"
        return None
    parts = urlsplit(src)
    if parts.scheme in ("http", "https"):
        return "remote image (the book must render offline)"
    path = (page.parent / unquote(parts.path)).resolve()
    if not path.is_file():
        return f"missing file {src}"
    if path.suffix.lower() == ".svg":
        return None if b"<svg" in path.read_bytes()[:4096] else f"not an SVG: {src}"
    try:
        with Image.open(path) as im:
            im.verify()
    except Exception as err:  # noqa: BLE001
        return f"{src} does not decode ({type(err).__name__})"
    return None


def _ids(path: Path, cache: dict[Path, set[str]]) -> set[str]:
    if path not in cache:
        soup = _soup(path.read_text(errors="replace"))
        cache[path] = {t["id"] for t in soup.find_all(id=True)} | {
            t["name"] for t in soup.find_all("a", attrs={"name": True})
        }
    return cache[path]


def page_problems(
    html: str, page: Path, root: Path, ids_cache: dict[Path, set[str]] | None = None
) -> list[Problem]:
    """The problems of one rendered page: ``html`` is its DOM after scripts ran, ``page`` its
    file (for resolving links and images), ``root`` the book's HTML root."""
    ids_cache = {} if ids_cache is None else ids_cache
    name = str(page.relative_to(root))
    soup = _soup(html)
    main = soup.find("main") or soup.find("article") or soup.body or soup
    found: list[Problem] = []

    for node in main.select("div.cell_output, div.output"):
        classes = " ".join(node.get("class") or [])
        text = node.get_text("\n")
        if "stderr" in classes:
            found.append(Problem(name, "output", f"stderr shown: {text.strip()[:120]!r}"))
            continue
        for kind, pattern in PLUMBING.items():
            m = pattern.search(text)
            if m:
                line = text[max(0, m.start() - 40) : m.end() + 40].replace("\n", " ")
                found.append(Problem(name, "output", f"{kind}: ...{line.strip()}..."))
    for node in main.select("div.cell_output, div.output"):
        node.decompose()  # outputs were judged above; TeX checks concern the prose and math

    prose = _prose_text(main)
    for m in list(RAW_TEX.finditer(prose))[:5]:
        context = prose[max(0, m.start() - 40) : m.end() + 40].replace("\n", " ")
        found.append(Problem(name, "latex", f"raw TeX {m.group(0)!r} in ...{context.strip()}..."))
    has_math = bool(main.select(".math, span.math, div.math")) or "mjx-container" in html
    if has_math and not soup.find("mjx-container"):
        found.append(Problem(name, "latex", "the page has math but MathJax typeset none of it"))

    for img in main.find_all("img"):
        why = _image_problem(img.get("src", ""), page)
        if why:
            found.append(Problem(name, "image", why))

    # ids of this page (its rendered DOM) once: a page links to its own anchors thousands of times
    own_ids = {t["id"] for t in soup.find_all(id=True)}
    for a in soup.find_all("a", href=True):
        href = a["href"]
        parts = urlsplit(href)
        if parts.scheme or href.startswith(("mailto:", "javascript:")):
            continue
        target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            found.append(Problem(name, "link", f"{href}: no such page"))
        elif parts.fragment and target.suffix == ".html":
            anchor = unquote(parts.fragment)
            same = target.resolve() == page.resolve()
            if not (same and anchor in own_ids) and anchor not in _ids(target, ids_cache):
                found.append(Problem(name, "link", f"{href}: no anchor #{parts.fragment}"))
    return found


def book_pages(root: Path) -> list[Path]:
    """The content pages of a built book: every ``.html`` except Sphinx's own (search, index)
    and redirects (the root ``index.html`` that sends the browser to the first page)."""
    skip = {"search.html", "genindex.html", "py-modindex.html"}
    redirect = re.compile(r"<meta[^>]+http-equiv=.?refresh", re.IGNORECASE)
    return sorted(
        p
        for p in root.rglob("*.html")
        if p.name not in skip
        and not {"_static", "_sources", "_images"} & set(p.parts)
        and not redirect.search(p.read_text(errors="replace")[:2000])
    )


def check_book(
    root: Path,
    out: Path,
    chromium: str | None = None,
    pages: Iterable[Path] | None = None,
    progress: bool = True,
) -> BookReport:
    """Open every page of the built book at ``root`` (its ``_build/html``) in Chromium, check it
    (:func:`page_problems`), save a screenshot of each chapter under ``out`` and write
    ``out/report.json``. Raises FileNotFoundError, naming how to install it, without Chromium."""
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError(
            "no Chromium on PATH: install it (Debian: `apt-get install chromium`) to check the "
            "rendered book in a browser"
        )
    if not (root / "index.html").is_file():
        raise FileNotFoundError(f"{root} holds no built book (index.html): run `make html` first")
    from tqdm.auto import tqdm

    start = time.perf_counter()
    for stale in out.glob("*.png"):  # screenshots of an earlier check (chapters since renamed)
        stale.unlink()
    todo = list(pages) if pages is not None else book_pages(root)
    report = BookReport(pages=[str(p.relative_to(root)) for p in todo])
    cache: dict[Path, set[str]] = {}
    for page in tqdm(todo, desc="pages in Chromium", unit="page", disable=not progress):
        try:
            report.problems += page_problems(rendered_dom(page, chromium), page, root, cache)
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            report.problems.append(Problem(str(page.relative_to(root)), "browser", str(err)))
            continue
        if "chapters" in page.parts:
            shot = screenshot(page, out / f"{page.stem}.png", chromium)
            report.screenshots.append(str(shot))
    report.seconds = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(
        json.dumps({**asdict(report), "problems": [asdict(p) for p in report.problems]}, indent=1)
        + "\n"
    )
    return report
