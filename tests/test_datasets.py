"""wordot.datasets: the registry, finding a local copy, and downloads checked for real.

Downloads run against an HTTP server on 127.0.0.1 (``http.server`` in a thread) that serves
synthetic files under the raw.githubusercontent.com layout ``/<repo>/<commit>/<path>``: a good
file, a file whose sha256 differs from the registry's, a connection dropped half-way, a 404, a
zip member and a label join. After every failure the cache must hold no file at all (neither
the target nor a temporary one). Tests on the real evaluation sets skip when
``../shared/eval-data`` (or ``$WORDOT_DATA``) is absent.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import re
import threading
import time
import zipfile
from pathlib import Path

import pytest
from support import EVAL_DATA, ROOT, needs_eval_data

from wordot import datasets, hub
from wordot.datasets import (
    ChecksumError,
    DataFile,
    Dataset,
    DownloadError,
    EvalDataNotAvailableError,
    Origin,
)

FIXTURES = ROOT / "tests" / "fixtures" / "align"
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No user data directory, a private cache, and no proxy between us and 127.0.0.1."""
    monkeypatch.delenv(datasets.ENV_VAR, raising=False)
    monkeypatch.setenv("WORDOT_CACHE", str(tmp_path / "cache"))
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)


# --------------------------------------------------------------------------------------------
# the registry
# --------------------------------------------------------------------------------------------


def test_registry_names_files_and_origins():
    assert datasets.names() == tuple(datasets.REGISTRY)
    expected = {"enfr", "roen", "zhen", "jaen", "xl-wa-bg", "xl-wa-es", "bicici-deen"}
    assert expected | {"xquad", "xnli", "tatoeba"} == set(datasets.names())
    for ds in datasets.REGISTRY.values():
        assert ds.files and ds.licence and ds.citation and ds.description
        assert len({f.name for f in ds.files}) == len(ds.files)
        for f in ds.files:
            assert re.fullmatch(r"[0-9a-f]{64}", f.sha256), (ds.name, f.name)
            for o in (f.origin, f.labels):
                if o is not None:
                    assert re.fullmatch(r"[0-9a-f]{40}", o.commit), (ds.name, f.name)
    xnli = datasets.get("xnli")
    assert len(xnli.files) == 30 and sum(f.labels is not None for f in xnli.files) == 15
    assert len(datasets.get("tatoeba").files) == 2 * 112 + 1


def test_raw_urls_are_built_from_repository_commit_and_path():
    f = datasets.get("enfr").file("enfr.gold")
    assert f.origin.url() == (
        "https://raw.githubusercontent.com/neulab/awesome-align/"
        "5f150d45bbe51e167daf0a84abebaeb07c3323d1/examples/enfr.gold"
    )
    assert f.origin.url("http://mirror:8/") == (
        "http://mirror:8/neulab/awesome-align/5f150d45bbe51e167daf0a84abebaeb07c3323d1/"
        "examples/enfr.gold"
    )
    member = datasets.get("bicici-deen").file("de-en.wa").origin
    assert member.path.endswith(".zip") and member.member.endswith("/de-en.wa")


def test_unknown_names_are_errors():
    with pytest.raises(ValueError, match="unknown evaluation data set 'nope'.*xl-wa-es"):
        datasets.get("nope")
    with pytest.raises(ValueError, match="unknown evaluation data set"):
        datasets.path("nope")
    with pytest.raises(ValueError, match="has no file 'x.tsv'"):
        datasets.path("xl-wa-es", files=["x.tsv"], data_dir=FIXTURES)
    with pytest.raises(TypeError, match="list of names"):
        datasets.path("xl-wa-es", files="es/dev.tsv", data_dir=FIXTURES)


# --------------------------------------------------------------------------------------------
# local copies: data_dir, $WORDOT_DATA, the cache
# --------------------------------------------------------------------------------------------


def test_data_dir_is_used_and_must_hold_the_files():
    d = datasets.path("xl-wa-es", data_dir=FIXTURES, files=["es/dev.tsv"])
    assert d == FIXTURES / "wordalign" / "xl_wa"
    with pytest.raises(EvalDataNotAvailableError, match="lacks LICENSE.txt, README.md"):
        datasets.path("xl-wa-es", data_dir=FIXTURES)


def test_verify_catches_a_different_copy():
    # the fixture has the registered name but synthetic content
    d = datasets.path("xl-wa-es", data_dir=FIXTURES, files=["es/dev.tsv"])
    with pytest.raises(ChecksumError, match=r"es/dev.tsv has sha256 [0-9a-f]{64}, expected"):
        datasets.path("xl-wa-es", data_dir=FIXTURES, files=["es/dev.tsv"], verify=True)
    with pytest.raises(FileNotFoundError, match="LICENSE.txt is missing"):
        datasets.verify("xl-wa-es", d, ["LICENSE.txt"])


def test_environment_variable_is_read_at_call_time(monkeypatch, tmp_path):
    monkeypatch.setenv(datasets.ENV_VAR, str(FIXTURES))
    assert datasets.path("enfr", files=["enfr.gold"]) == FIXTURES / "wordalign/awesome_align"
    # a copy lacking a file falls through to the cache
    cached = datasets.cache_dir() / "wordalign/awesome_align"
    cached.mkdir(parents=True)
    (cached / "LICENSE.awesome-align").write_text("x")
    assert datasets.path("enfr", files=["LICENSE.awesome-align"]) == cached
    assert datasets.cache_dir() == tmp_path / "cache" / "datasets"


def test_offline_fails_fast_naming_origin_and_variable(monkeypatch):
    monkeypatch.setenv(datasets.ENV_VAR, str(FIXTURES))  # lacks zhen
    t0 = time.perf_counter()
    with pytest.raises(EvalDataNotAvailableError) as err:
        datasets.path("zhen", base_url="http://127.0.0.1:9")  # nothing listens on port 9
    assert time.perf_counter() - t0 < 10
    msg = str(err.value)
    assert isinstance(err.value, hub.NotAvailableError)
    assert "http://127.0.0.1:9/neulab/awesome-align/5f150d45" in msg
    assert "WORDOT_DATA" in msg and "unreachable" in msg and "lacks zhen.src-tgt" in msg
    assert "https://github.com/neulab/awesome-align/tree/5f150d45" in msg


# --------------------------------------------------------------------------------------------
# downloads from a local server
# --------------------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files[path]``; a path in ``server.drop`` is cut off half-way."""

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self.server.requests.append(self.path)
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path in self.server.drop:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.files, srv.drop, srv.requests = {}, set(), []
    srv.base = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


ORIGIN = Origin("someone/synthetic", "0123456789abcdef0123456789abcdef01234567", "data/dev.tsv")
SERVED = f"/{ORIGIN.repo}/{ORIGIN.commit}/{ORIGIN.path}"


def register(monkeypatch, *files: DataFile) -> Dataset:
    """Add a synthetic data set ``synthetic`` (directory ``synthetic/``) to the registry."""
    ds = Dataset("synthetic", "synthetic", files, "synthetic test data", "none", "none")
    monkeypatch.setitem(datasets.REGISTRY, "synthetic", ds)
    return ds


def test_download_good_file_then_served_from_cache(monkeypatch, server):
    data = (FIXTURES / "wordalign/xl_wa/es/dev.tsv").read_bytes()
    register(monkeypatch, DataFile("es/dev.tsv", sha(data), ORIGIN))
    server.files[SERVED] = data
    d = datasets.path("synthetic", base_url=server.base, progress=True)
    assert d == datasets.cache_dir() / "synthetic"
    assert (d / "es/dev.tsv").read_bytes() == data
    assert files_under(datasets.cache_dir()) == [d / "es/dev.tsv"]
    assert oct((d / "es/dev.tsv").stat().st_mode & 0o777) != oct(0o600)  # not mkstemp's mode
    # second call: the cache, no request; verify=True re-checks the sha256
    assert datasets.path("synthetic", base_url=server.base, verify=True) == d
    assert server.requests == [SERVED]


def test_wrong_checksum_leaves_nothing(monkeypatch, server):
    data = (FIXTURES / "wordalign/xl_wa/es/dev.tsv").read_bytes()
    register(monkeypatch, DataFile("es/dev.tsv", sha(b"something else"), ORIGIN))
    server.files[SERVED] = data
    with pytest.raises(ChecksumError, match=f"downloaded from {server.base}.*nothing was written"):
        datasets.path("synthetic", base_url=server.base, progress=False)
    assert files_under(datasets.cache_dir()) == []


def test_connection_dropped_mid_file_leaves_nothing(monkeypatch, server):
    data = (FIXTURES / "wordalign/xl_wa/es/dev.tsv").read_bytes() * 50
    register(monkeypatch, DataFile("es/dev.tsv", sha(data), ORIGIN))
    server.files[SERVED] = data
    server.drop.add(SERVED)
    with pytest.raises(DownloadError, match=f"{server.base}{SERVED}") as err:
        datasets.path("synthetic", base_url=server.base, progress=False)
    assert isinstance(err.value, EvalDataNotAvailableError)
    assert files_under(datasets.cache_dir()) == []


def test_http_error_and_partial_sets(monkeypatch, server):
    good = b"line one\nline two\n"
    other = Origin(ORIGIN.repo, ORIGIN.commit, "data/missing.tsv")
    register(monkeypatch, DataFile("a.tsv", sha(good), ORIGIN), DataFile("b.tsv", sha(good), other))
    server.files[SERVED] = good
    with pytest.raises(DownloadError, match="404"):
        datasets.path("synthetic", base_url=server.base, progress=False)
    # the file that was complete and checked before the failure is kept, whole
    assert files_under(datasets.cache_dir()) == [datasets.cache_dir() / "synthetic/a.tsv"]
    # asking for a.tsv alone now needs no download
    n = len(server.requests)
    datasets.path("synthetic", files=["a.tsv"], base_url=server.base)
    assert len(server.requests) == n


def test_zip_member_and_label_join(monkeypatch, server):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("pack/test.de", "guten tag\n")
    text = b"premise one\thypothesis one\npremise two\thypothesis two\n"
    labels = b"genre\tlabel\tsentence1\nfic\tentailment\tx\nfic\tneutral\ty\n"
    joined = b"premise one\thypothesis one\tentailment\npremise two\thypothesis two\tneutral\n"
    archive = Origin(ORIGIN.repo, ORIGIN.commit, "pack.zip", member="pack/test.de")
    test = Origin(ORIGIN.repo, ORIGIN.commit, "test.tsv")
    label_file = Origin(ORIGIN.repo, ORIGIN.commit, "labels.tsv")
    register(
        monkeypatch,
        DataFile("test.de", sha(b"guten tag\n"), archive),
        DataFile("test.tsv", sha(joined), test, labels=label_file),
    )
    base = f"/{ORIGIN.repo}/{ORIGIN.commit}/"
    server.files.update({base + "pack.zip": buf.getvalue(), base + "test.tsv": text})
    server.files[base + "labels.tsv"] = labels
    d = datasets.download("synthetic", datasets.cache_dir(), base_url=server.base, progress=False)
    assert (d / "test.de").read_bytes() == b"guten tag\n"
    assert (d / "test.tsv").read_bytes() == joined
    with pytest.raises(ValueError, match="has 1 labels for 2 lines"):
        datasets.join_labels(text, b"label\nentailment\n")


# --------------------------------------------------------------------------------------------
# the real shared copy
# --------------------------------------------------------------------------------------------


@needs_eval_data
def test_shared_copy_matches_every_checksum():
    for name in datasets.names():
        d = datasets.path(name, data_dir=EVAL_DATA, verify=True)
        assert d == EVAL_DATA / datasets.get(name).subdir


@needs_eval_data
def test_registry_commits_are_the_ones_the_data_readme_names():
    readme = (EVAL_DATA / "README.md").read_text(encoding="utf-8")
    for ds in datasets.REGISTRY.values():
        for f in ds.files:
            for o in (f.origin, f.labels):
                if o is not None:
                    assert f"{o.repo} @ {o.commit}" in readme, (ds.name, o.repo)
