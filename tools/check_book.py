"""Open every page of the rendered book in headless Chromium and check what a reader sees.

    python tools/check_book.py              # build the HTML afresh (warnings are errors), check it
    python tools/check_book.py --no-build   # check the book already in _build/html (pages of
                                            # chapters since renamed stay there until `make clean`)

Checks (wordot.book.browser): no TeX left after MathJax ran offline, every image loads, no
broken internal link, no traceback, warning, progress bar or local path in any output. Saves
a screenshot per chapter and report.json in _build/browser-check/ and exits 1 on any problem.
Needs Chromium (Debian: `apt-get install chromium`). Run it before committing executed chapters.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from wordot.book import browser, runner


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-build", action="store_true", help="check _build/html as it is")
    args = parser.parse_args()
    root = runner.project_root()
    start = time.perf_counter()
    html = root / "_build" / "html"
    with tempfile.TemporaryDirectory(prefix="wordot-book-") as tmp:
        if not args.no_build:  # a fresh output directory: only the pages of this build
            html = runner.build_book(root, out=Path(tmp), strict=True)
        report = browser.check_book(html, root / "_build" / "browser-check")
    print(report.summary())
    print(f"screenshots and report.json: {root / '_build' / 'browser-check'}")
    print(f"total {time.perf_counter() - start:.0f} s (build included: {not args.no_build})")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
