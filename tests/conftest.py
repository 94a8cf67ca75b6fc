"""Shared fixtures. Tests never train outside a temporary results folder."""

import os

import pytest


@pytest.fixture
def tmp_store(tmp_path, monkeypatch):
    """A fresh, empty results store for one test (training allowed)."""
    monkeypatch.setenv("COMPDIFF_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("COMPDIFF_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("COMPDIFF_NO_TRAIN", raising=False)
    return tmp_path / "results"


def pytest_configure(config):
    os.environ.setdefault("MPLBACKEND", "Agg")
