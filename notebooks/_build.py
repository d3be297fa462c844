"""Generate the notebooks from one Python source of truth.

Every notebook is a list of cells declared in the ``notebooks/_cells/`` modules (one per
notebook, ``CELLS = [md(...), code(...), ...]``); this script writes them as ``.ipynb``
files next to itself, without outputs or execution counts and with stable cell ids, so the
stored files only change when the source changes.

    python notebooks/_build.py           # (re)write every notebook
    python notebooks/_build.py --check   # exit 1 if a stored notebook differs from its source

The notebooks use only the public API (``agentpatterns``, its subpackages' ``__all__``,
``tools``, ``graphs``, ``evals``), run offline, and write files only to a temporary folder.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import nbformat

HERE = Path(__file__).resolve().parent
CELLS_DIR = HERE / "_cells"

#: The notebooks, in reading order (``_cells/<name>.py`` holds the cells of each).
NOTEBOOKS = (
    "01_state_machine",
    "02_tool_orchestration",
    "03_layered",
    "04_observability",
    "05_error_handling",
    "06_choosing_patterns",
    "07_eval_harness",
)


def _load(name: str) -> ModuleType:
    if str(CELLS_DIR) not in sys.path:
        sys.path.insert(0, str(CELLS_DIR))
    path = CELLS_DIR / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_nb_cells_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` as an nbformat node (no outputs, stable ids)."""
    cells = []
    for i, (kind, source) in enumerate(_load(name).CELLS):
        source = source.strip("\n")
        if kind == "md":
            cell = nbformat.v4.new_markdown_cell(source)
        else:
            cell = nbformat.v4.new_code_cell(source)
        cell["id"] = f"{name[:2]}-{i:02d}"
        cells.append(cell)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    nbformat.validate(nb)
    return nb


def render(name: str) -> str:
    """The stored text of notebook ``name``."""
    return nbformat.writes(build(name)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("names", nargs="*", help="only these notebooks")
    args = parser.parse_args(argv)
    names = args.names or [n for n in NOTEBOOKS if (CELLS_DIR / f"{n}.py").exists()]
    stale = []
    for name in names:
        text = render(name)
        target = HERE / f"{name}.ipynb"
        if args.check:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            target.write_text(text, encoding="utf-8")
    if stale:
        print("stale notebooks (run python notebooks/_build.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
