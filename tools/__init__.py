"""Example tool packs built on agentpatterns (each: ``tools(...)``, contracts, compensations).

- ``tools.retail``: the 16 τ²-bench retail tools over SQLite, write log, compensation, replay
- ``tools.payments``: payment gateway honouring idempotency keys (compensation = refund)
- ``tools.notifications``: e-mail / SMS outbox deduplicated per effect key
- ``tools.analytics``: read-only reports over the retail store
"""
