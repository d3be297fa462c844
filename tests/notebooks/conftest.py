"""The ``notebook`` marker: tests that execute a notebook in its own Jupyter kernel."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "notebook: executes one notebook in its own kernel (independent of the others, so "
        "they spread over xdist workers; deselect with -m 'not notebook')",
    )
