"""Shared fixtures. Tests never train outside a temporary results folder."""

import os

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """Run every test on one torch thread.

    On a shared 2-core machine torch's two OpenMP threads spin-wait whenever another process is
    busy, and a step gets 5-20x slower; one thread keeps the tests fast and steady.
    """
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(autouse=True)
def _still_one_thread(_one_thread):
    """Re-assert it before each test: a library that resets OpenMP (umap-learn through
    threadpoolctl did) must not change the thread count, and so the rounding, of later tests."""
    torch.set_num_threads(1)


@pytest.fixture
def tmp_store(tmp_path, monkeypatch):
    """A fresh, empty results store for one test (training allowed)."""
    monkeypatch.setenv("COMPDIFF_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("COMPDIFF_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("COMPDIFF_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.delenv("COMPDIFF_NO_TRAIN", raising=False)
    return tmp_path / "results"


def pytest_configure(config):
    os.environ.setdefault("MPLBACKEND", "Agg")
