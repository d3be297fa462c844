"""Reference graph: layered report generation (see ``graph``)."""

from graphs.report_generation.graph import (
    SECTIONS,
    ReportState,
    build,
    decompose,
    make_graph,
    render,
)

__all__ = ["SECTIONS", "ReportState", "build", "decompose", "make_graph", "render"]
