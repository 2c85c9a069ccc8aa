"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

import pytest

from tools.harness import repository


@pytest.fixture(scope="session")
def cran(tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of a local repository with kubepar's core R packages (as the pods' snapshot serves them)."""
    return repository.build(tmp_path_factory.mktemp("cran"))
