"""Sphinx extension of the book: serve MathJax from a pinned PyPI copy, so math renders offline.

Sphinx loads MathJax from a CDN by default; a reader of the built HTML without network would see
raw TeX. ``django-static-mathjax`` (pinned in environment.yml, no dependencies) ships MathJax 3's
files; this copies the one bundle Sphinx uses and its fonts into ``_static/mathjax``.
"""

from __future__ import annotations

import shutil
from importlib.resources import files
from pathlib import Path

BUNDLE = "tex-mml-chtml.js"
FONTS = Path("output") / "chtml" / "fonts" / "woff-v2"


def mathjax_es5() -> Path:
    """Directory of MathJax 3's es5 build inside the installed package."""
    return Path(str(files("mathjax"))) / "static" / "mathjax" / "es5"


def _use_local(app, config) -> None:
    config.mathjax_path = f"mathjax/{BUNDLE}"


def _copy(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    src, dst = mathjax_es5(), Path(app.outdir) / "_static" / "mathjax"
    (dst / FONTS).mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / BUNDLE, dst / BUNDLE)
    for font in (src / FONTS).iterdir():
        shutil.copy2(font, dst / FONTS / font.name)


def setup(app) -> dict:
    if not (mathjax_es5() / BUNDLE).exists():
        raise RuntimeError(
            "MathJax files not found: pip install django-static-mathjax==3.2.2.1 "
            "(pinned in environment.yml)"
        )
    app.connect("config-inited", _use_local)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
