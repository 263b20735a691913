"""Every chapter notebook follows the book's conventions (papermill-ready, output-free)."""

import ast

import nbformat
import papermill
import pytest

from wordot import config
from wordot.book import runner

CHAPTERS = runner.discover()


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.name for c in CHAPTERS])
def test_notebook_conventions(chapter):
    nb = nbformat.read(chapter.source, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("(ch-"), "no chapter label"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, "stored with outputs"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged `parameters`"
    assigned = [
        t.id
        for node in ast.parse(tagged[0].source).body
        if isinstance(node, ast.Assign)
        for t in node.targets
    ]
    declared = list(papermill.inspect_notebook(str(chapter.source)))
    # papermill silently drops a line it cannot parse (e.g. an apostrophe in the comment)
    assert declared == assigned, f"papermill sees {declared}, the cell assigns {assigned}"
    assert ast.literal_eval(tagged[0].source.split("\n")[0].split("=")[1].split("#")[0]) == "smoke"
    known = set(config.parameter_names()) | {"profile"}
    assert set(declared) <= known, f"not profile fields: {set(declared) - known}"
