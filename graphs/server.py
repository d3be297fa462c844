"""The reference graphs as module variables, for ``langgraph.json`` (LangGraph CLI/server).

The LangGraph server looks graphs up by variable name (``"./server.py:customer_service"``)
and runs them with its own checkpointer; each graph is built once, on import, with fresh
in-memory stores. Run ``langgraph dev --no-browser`` from ``graphs/``.
"""

from __future__ import annotations

from graphs.customer_service.graph import make_graph as _customer_service
from graphs.diagnosis.graph import make_graph as _diagnosis
from graphs.order_processing.graph import make_graph as _order_processing
from graphs.report_generation.graph import make_graph as _report_generation

__all__ = ["GRAPHS", "customer_service", "diagnosis", "order_processing", "report_generation"]

customer_service = _customer_service()
order_processing = _order_processing()
report_generation = _report_generation()
diagnosis = _diagnosis()

#: graph id -> compiled graph
GRAPHS = {
    "customer_service": customer_service,
    "order_processing": order_processing,
    "report_generation": report_generation,
    "diagnosis": diagnosis,
}
