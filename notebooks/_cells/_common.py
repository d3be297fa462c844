"""Cell constructors and the helper cell every notebook starts with."""

from __future__ import annotations


def md(text: str) -> tuple[str, str]:
    """A Markdown cell."""
    return ("md", text)


def code(text: str) -> tuple[str, str]:
    """A code cell."""
    return ("code", text)


#: First code cell of every notebook: display helpers (no pandas: Markdown tables) and a
#: scratch folder for SQLite files, so running a notebook never writes into the checkout.
HELPERS = code(
    '''
# Display helpers used below: Markdown tables and offline Mermaid diagrams.
import tempfile
from pathlib import Path

from IPython.display import Markdown, display

WORKDIR = Path(tempfile.mkdtemp(prefix="agentpatterns-nb-"))  # SQLite files go here


def table(rows, columns=None, *, limit=40, width=90):
    """Show a list of dicts (or of tuples with ``columns``) as a Markdown table."""
    rows = list(rows)
    if columns is None:
        columns = list(rows[0]) if rows and isinstance(rows[0], dict) else []

    def cell(value):
        if isinstance(value, float):
            value = f"{value:.3g}"
        text = str(value).replace("|", "\\\\|").replace("\\n", " ")
        return text if len(text) <= width else text[: width - 3] + "..."

    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for row in rows[:limit]:
        values = [row.get(c, "") for c in columns] if isinstance(row, dict) else list(row)
        lines.append("| " + " | ".join(cell(v) for v in values) + " |")
    if len(rows) > limit:
        lines.append(f"\\n*... {len(rows) - limit} more rows*")
    display(Markdown("\\n".join(lines)))


def mermaid(source):
    """Render Mermaid source offline (JupyterLab >= 4.1 draws it; elsewhere it stays text)."""
    display(Markdown("```mermaid\\n" + source.strip() + "\\n```"))
'''
)
