"""The scenario suites by name, and ``scenarios`` (all four together).

Example:
    >>> from evals.scenarios.suites import SUITES, suite
    >>> len(SUITES), suite("order-processing").CONFIGS
    (4, ('full', 'no-retry'))
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from agentpatterns.errors import ConfigurationError

__all__ = ["SUITES", "MixedHarness", "suite"]

SUITES = ("order-processing", "report-generation", "customer-service", "diagnosis")


def _harness_class(name: str) -> Any:
    if name == "order-processing":
        from evals.scenarios.order import OrderHarness

        return OrderHarness
    if name == "report-generation":
        from evals.scenarios.report import ReportHarness

        return ReportHarness
    if name == "customer-service":
        from evals.scenarios.service import ServiceHarness

        return ServiceHarness
    if name == "diagnosis":
        from evals.scenarios.diagnosis import DiagnosisHarness

        return DiagnosisHarness
    raise ConfigurationError(
        f"unknown suite {name!r}; known: tau2-retail, {', '.join(SUITES)}, scenarios"
    )


def _ids(cls: Any) -> list[str]:
    if cls.suite == "customer-service":
        from evals.scenarios.service import _scenarios

        return sorted(_scenarios())
    module = __import__(cls.__module__, fromlist=["SCENARIOS"])
    return sorted(module.SCENARIOS)


class MixedHarness:
    """``scenarios``: dispatches each task to the harness of its suite (by id prefix)."""

    suite = "scenarios"
    CONFIGS = ("full", "no-retry")

    def __init__(self, folder: Path) -> None:
        self.dir = folder
        self._parts: dict[str, Any] = {}

    def _part(self, task: str) -> Any:
        for name in SUITES:
            cls = _harness_class(name)
            if task.startswith(cls.prefix):
                if name not in self._parts:
                    self._parts[name] = cls(self.dir / name)
                return self._parts[name]
        raise ConfigurationError(f"no scenario suite has task {task!r}")

    def run_episode(self, config: str, profile: str, task: str, trial: int, seed: int) -> Any:
        part = self._part(task)
        ran_as = config if config in part.CONFIGS else part.CONFIGS[0]
        out = part.run_episode(ran_as, profile, task, trial, seed)
        out["suite"] = "scenarios"
        out["config"] = config
        if ran_as != config:
            out["detail"]["ran_as"] = ran_as  # e.g. diagnosis calls no tools to retry
        return out

    def close(self) -> None:
        for part in self._parts.values():
            part.close()


def suite(name: str) -> Any:
    """The suite ``name`` as a namespace: ``CONFIGS``, ``task_ids(split, limit)``, ``Harness``."""
    if name == "scenarios":
        classes = [_harness_class(n) for n in SUITES]

        def mixed_ids(split: str = "all", *, limit: int | None = None) -> list[str]:
            ids = [i for cls in classes for i in _ids(cls)]
            return ids[:limit] if limit else ids

        return SimpleNamespace(
            CONFIGS=MixedHarness.CONFIGS, task_ids=mixed_ids, Harness=MixedHarness
        )
    cls = _harness_class(name)

    def task_ids(split: str = "all", *, limit: int | None = None) -> list[str]:
        ids = _ids(cls)
        return ids[:limit] if limit else ids

    return SimpleNamespace(CONFIGS=cls.CONFIGS, task_ids=task_ids, Harness=cls)
