"""Fixtures shared by the test modules."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Small problems: one torch thread (two busy threads make small ops 10-100x slower)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def corpora():
    """The shipped de-en and fr-en smoke corpora (tiny, hand-written): training tests' data."""
    from wordot import data

    return {k: data.smoke_corpus(k) for k in ("de", "fr")}
