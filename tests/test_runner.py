"""The papermill runner: parameters, manifest, failures named by chapter and cell, staleness."""

import json
import os
import signal
import subprocess
import sys
import time

import nbformat
import pytest

from wordot import __version__
from wordot.book import runner


def _notebook(path, cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for kind, src, tags in cells:
        cell = (
            nbformat.v4.new_code_cell(src) if kind == "code" else nbformat.v4.new_markdown_cell(src)
        )
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


PARAMS = ('profile = "smoke"\neps = None\n', ["parameters"])


@pytest.fixture
def book(tmp_path):
    _notebook(
        tmp_path / "notebooks" / "01_ok.ipynb",
        [
            ("markdown", "# One", None),
            ("code", *PARAMS),
            (
                "code",
                "from wordot import config\ncfg = config.resolve(profile, eps=eps)\ncfg.demo.eps",
                None,
            ),
        ],
    )
    _notebook(
        tmp_path / "notebooks" / "02_fails.ipynb",
        [
            ("code", *PARAMS),
            ("code", "x = 1", None),
            (
                "code",
                "import os, time\nif os.environ.get('WORDOT_TEST_HANG'):\n    time.sleep(60)",
                None,
            ),
            ("code", "raise ValueError('boom at eps=%s' % eps)", None),
        ],
    )
    return tmp_path


def test_run_writes_executed_copy_and_manifest(book):
    manifest = runner.run("smoke", {"eps": 0.2}, only=["01"], root=book, progress=False)
    out = book / "book" / "chapters" / "01_ok.ipynb"
    nb = nbformat.read(out, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert (
        injected and "eps = 0.2" in injected[0].source and 'profile = "smoke"' in injected[0].source
    )
    assert nb.cells[-1].outputs[0]["data"]["text/plain"] == "0.2"  # the override reached the code
    assert nb.metadata["papermill"]["input_path"] == "notebooks/01_ok.ipynb"
    assert nb.metadata["papermill"]["output_path"] == "book/chapters/01_ok.ipynb"
    on_disk = json.loads((book / "book" / "chapters" / "manifest.json").read_text())
    assert on_disk == manifest
    rec = manifest["chapters"]["01_ok"]
    assert rec["status"] == "ok" and rec["profile"] == "smoke"
    assert rec["parameters"] == {"profile": "smoke", "eps": 0.2}
    assert rec["wordot_version"] == __version__
    assert rec["source_sha256"] == runner.source_hash(book / "notebooks" / "01_ok.ipynb")
    assert rec["seconds"] >= 0 and "git_commit" in rec
    assert runner.stale_chapters(book) == ["02_fails"]  # never ran


def test_failure_names_chapter_and_cell_and_keeps_earlier_chapters(book):
    with pytest.raises(
        runner.ChapterFailed,
        match=r"chapter 02_fails failed in cell 3 \(\"raise ValueError\('boom at eps=%s' % eps\)\"\) "
        r"\(ValueError: boom at eps=None\)",
    ):
        runner.run("smoke", {}, root=book, progress=False)
    manifest = json.loads((book / "book" / "chapters" / "manifest.json").read_text())
    assert manifest["chapters"]["01_ok"]["status"] == "ok"
    assert manifest["chapters"]["02_fails"]["status"] == "failed"
    assert "ValueError: boom" in manifest["chapters"]["02_fails"]["error"]


def test_unknown_parameter_and_chapter_are_rejected_before_running(book):
    with pytest.raises(ValueError, match=r"\['epsilon'\] are not in any chapter's parameters cell"):
        runner.run("smoke", {"epsilon": 1}, root=book, progress=False)
    with pytest.raises(ValueError, match=r"no chapter matches \['07'\]"):
        runner.run("smoke", {}, only=["07"], root=book, progress=False)
    with pytest.raises(ValueError, match="unknown profile 'gpu'"):
        runner.run("gpu", {}, root=book, progress=False)
    with pytest.raises(ValueError, match="choose the profile with --profile paper"):
        runner.run("smoke", {"profile": "paper"}, root=book, progress=False)
    with pytest.raises(ValueError, match="eps='nan' must be a finite number"):
        runner.run("smoke", {"eps": "nan"}, root=book, progress=False)
    assert not (book / "book" / "chapters" / "manifest.json").exists()


def test_editing_a_source_makes_its_copy_stale(book):
    runner.run("smoke", {}, only=["01"], root=book, progress=False)
    assert "01_ok" not in runner.stale_chapters(book)
    src = book / "notebooks" / "01_ok.ipynb"
    nb = nbformat.read(src, as_version=4)
    nb.cells[-1].source += "\n# edited"
    nbformat.write(nb, src)
    assert "01_ok" in runner.stale_chapters(book)


def test_cli_reports_failure_with_exit_code(book, capsys):
    from wordot.__main__ import main

    code = main(
        ["run", "--root", str(book), "--profile", "smoke", "--no-progress", "-p", "eps", "0.3"]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "chapter 02_fails failed in cell" in err and "boom at eps=0.3" in err


def test_an_interrupted_chapter_keeps_its_last_copy_and_counts_as_stale(book):
    runner.run("smoke", {}, only=["01"], root=book, progress=False)
    assert "01_ok" not in runner.stale_chapters(book)
    ok_copy = (book / "book" / "chapters" / "01_ok.ipynb").read_bytes()
    manifest = book / "book" / "chapters" / "manifest.json"
    env = dict(os.environ, WORDOT_TEST_HANG="1")
    cmd = [sys.executable, "-m", "wordot", "run", "--root", str(book), "--profile", "smoke"]
    proc = subprocess.Popen(
        [*cmd, "--no-progress", "--chapters", "02"], env=env, start_new_session=True
    )
    try:  # wait until chapter 02 is running (its third cell sleeps), then kill everything
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            rec = json.loads(manifest.read_text())["chapters"].get("02_fails", {})
            if rec.get("status") == "running" and list(book.glob("book/chapters/.02_fails*")):
                break
            time.sleep(0.5)
        time.sleep(3)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert json.loads(manifest.read_text())["chapters"]["02_fails"]["status"] == "running"
    assert "02_fails" in runner.stale_chapters(book)
    assert not (book / "book" / "chapters" / "02_fails.ipynb").exists()  # no half copy in place
    assert (book / "book" / "chapters" / "01_ok.ipynb").read_bytes() == ok_copy
    assert "01_ok" not in runner.stale_chapters(book)


def test_a_truncated_manifest_is_named_as_the_manifest(book):
    runner.run("smoke", {}, only=["01"], root=book, progress=False)
    manifest = book / "book" / "chapters" / "manifest.json"
    manifest.write_text(manifest.read_text()[:40])
    with pytest.raises(
        ValueError, match=r"the book's manifest .*manifest.json is corrupt .* delete"
    ):
        runner.stale_chapters(book)


def _chapters(spec):
    """Chapters named by ``spec`` = [(name, needs, alone[, priority])] (the scheduler only)."""
    return [runner.Chapter(n, None, None, tuple(needs), *rest) for n, needs, *rest in spec]


def _schedule(spec, jobs, fail=(), seconds=0.05):
    import threading

    lock, events, live = threading.Lock(), [], set()

    def execute(chapter):
        with lock:
            events.append(("start", chapter.name, frozenset(live)))
            live.add(chapter.name)
        time.sleep(seconds)
        with lock:
            live.discard(chapter.name)
            events.append(("end", chapter.name, frozenset(live)))
        if chapter.name in fail:
            raise runner.ChapterFailed(f"chapter {chapter.name} failed")

    failures = runner._run_scheduled(_chapters(spec), jobs, execute, lambda: None)
    return events, failures


BOOK = [
    ("01", (), False),
    ("05", (), False),
    ("06", ("05",), False),
    ("08", ("05", "10"), False),
    ("10", (), False),
    ("11", (), True),
]


def test_schedule_respects_needs_alone_and_jobs():
    events, failures = _schedule(BOOK, jobs=2)
    assert failures == {}
    order = [name for kind, name, _ in events if kind == "start"]
    ended = [name for kind, name, _ in events if kind == "end"]
    assert sorted(order) == sorted(n for n, _, _ in BOOK)
    for kind, name, live in events:
        if kind == "start":
            assert len(live) < 2  # never more than `jobs` at once
            needs = dict((n, d) for n, d, _ in BOOK)[name]
            assert all(ended.index(d) < len(ended) for d in needs)
            done_before = {
                n for k, n, _ in events[: events.index((kind, name, live))] if k == "end"
            }
            assert set(needs) <= done_before, (name, needs, done_before)
    # 11 measures the machine: it starts after everything and runs alone
    start11 = [e for e in events if e[:2] == ("start", "11")][0]
    assert start11[2] == frozenset() and order[-1] == "11"
    # with two jobs, two chapters did run side by side (01 and 05 start together)
    assert any(kind == "start" and live for kind, _, live in events)


def test_schedule_one_job_runs_in_file_order_as_far_as_needs_allow():
    events, _ = _schedule(BOOK, jobs=1, seconds=0.0)
    order = [name for kind, name, _ in events if kind == "start"]
    assert order == ["01", "05", "06", "10", "08", "11"]  # 08 waits for the later 10


def test_schedule_skips_what_needs_a_failed_chapter_and_runs_the_rest():
    events, failures = _schedule(BOOK, jobs=2, fail={"05"})
    ran = {name for kind, name, _ in events if kind == "start"}
    assert ran == {"01", "05", "10", "11"}
    assert failures["05"] == "chapter 05 failed"
    assert "skipped: it needs ['05']" in failures["06"] and "needs ['05']" in failures["08"]


def test_schedule_refuses_a_cycle_and_unknown_needs(book):
    with pytest.raises(ValueError, match="form a cycle"):
        _schedule([("a", ("b",), False), ("b", ("a",), False)], jobs=2)
    nb = nbformat.read(book / "notebooks" / "01_ok.ipynb", as_version=4)
    nb.metadata["wordot"] = {"needs": ["00_nothing"]}
    nbformat.write(nb, book / "notebooks" / "01_ok.ipynb")
    with pytest.raises(ValueError, match=r"chapter 01_ok needs \['00_nothing'\], which are not"):
        runner.discover(book)
    nb.metadata["wordot"] = {"after": ["02_fails"]}
    nbformat.write(nb, book / "notebooks" / "01_ok.ipynb")
    with pytest.raises(ValueError, match=r"unknown keys \['after'\] in metadata.wordot"):
        runner.discover(book)


def test_two_jobs_execute_chapters_and_name_the_failure(book):
    with pytest.raises(runner.ChapterFailed, match=r"chapter 02_fails failed in cell 3"):
        runner.run("smoke", {"eps": 0.2}, root=book, progress=False, jobs=2)
    manifest = json.loads((book / "book" / "chapters" / "manifest.json").read_text())
    assert manifest["chapters"]["01_ok"]["status"] == "ok"
    assert manifest["chapters"]["02_fails"]["status"] == "failed"
    out = nbformat.read(book / "book" / "chapters" / "01_ok.ipynb", as_version=4)
    assert out.cells[-1].outputs[0]["data"]["text/plain"] == "0.2"


def test_schedule_starts_the_higher_priority_first_among_ready_chapters():
    spec = [
        ("05", (), False),
        ("06", ("05",), False),
        ("07", ("05",), False),
        ("08", ("05",), False, 1),
    ]
    events, _ = _schedule(spec, jobs=1, seconds=0.0)
    order = [name for kind, name, _ in events if kind == "start"]
    assert order == ["05", "08", "06", "07"]
