"""Scenario suites, one per reference graph (``order-processing``, ``report-generation``,
``customer-service``, ``diagnosis``) and ``scenarios`` (all four): light, deterministic
episodes for fault sweeps and the 1,000-run timing."""

from evals.scenarios.suites import SUITES, MixedHarness, suite

__all__ = ["SUITES", "MixedHarness", "suite"]
