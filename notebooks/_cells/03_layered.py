"""Notebook 03: layered architecture (pattern 1)."""

from _common import HELPERS, code, md

CELLS = [
    md(
        """
# 03 · Layered agents: an orchestrator over scoped executors

The guide separates **coordination** (task decomposition, tool orchestration, context
management) from **execution** (tool calls, state keeping). `build_layered_graph` gives you an
orchestrator layer that splits a task into `Subtask`s and fans them out with LangGraph's `Send`
to executor layers. Each executor sees **only the context keys it declared**, fails **alone**,
and may itself be a layered graph; nesting is tracked and bounded (`max_depth`, default 5).
"""
    ),
    HELPERS,
    md(
        """
## 1. Decompose, fan out, merge

A travel request is split into three subtasks. `search` and `book` declared the context they
need (`user`; `user` and `payment_token`); `summarize` declared nothing, so it cannot even read
the user's name. The orchestrator measures every hand-off.
"""
    ),
    code(
        """
from agentpatterns.layered import Executor, Subtask, build_layered_graph


def decompose(state):
    task = state["task"]
    return [
        Subtask(id="s1", executor="search", inputs={"q": task}),
        Subtask(id="s2", executor="book", inputs={"flight": "LH 123"}),
        Subtask(id="s3", executor="summarize", inputs={"text": task}),
    ]


def search(sub, ctx):  # ctx is read-only and holds only the declared keys
    return f"3 flights for {sub.inputs['q']!r} (for {ctx['user']})"


def book(sub, ctx):
    return {"flight": sub.inputs["flight"], "paid_with": ctx["payment_token"][:4] + "…"}


def summarize(sub, ctx):
    return sub.inputs["text"][:30]


layers = build_layered_graph(
    decompose=decompose,
    executors=[
        Executor("search", search, context_keys=("user",)),
        Executor("book", book, context_keys=("user", "payment_token")),
        Executor("summarize", summarize),
    ],
    context_keys=("user", "payment_token"),  # the state keys executors may declare
    on_failure="best_effort",
)
graph = layers.compile()
mermaid(graph.get_graph().draw_mermaid())
"""
    ),
    code(
        """
request = {"task": "cheap flights to Lisbon", "user": "ada", "payment_token": "tok_4242abcd"}
out = graph.invoke(request)
print("status:", out["status"])
table([(k, v) for k, v in out["results"].items()], ["subtask", "result"])
table(out["handoffs"], ["layer", "executor", "subtask", "ms", "copy_ms", "bytes"])
assert out["status"] == "done" and set(out["results"]) == {"s1", "s2", "s3"}
"""
    ),
    md(
        """
**What you see:** each hand-off lists the time from the orchestrator's decision to the executor
starting (`ms`), the time spent copying the scoped context (`copy_ms`) and its size. The guide
asks for under 50 ms per layer and state copying under 10 % of run time; these numbers are how
you check it on your own graph (they are also emitted as OpenTelemetry histograms with
`record_handoff_metrics`).

## 2. Scoped context and failures that stay local

Now `summarize` tries to read the payment token it never declared, and `search` hits a broken
dependency. With `on_failure="best_effort"` the other subtasks still deliver; the run ends
`partial` with every failure explained.
"""
    ),
    code(
        """
def nosy_summarize(sub, ctx):
    return ctx["payment_token"]  # not declared: refused


def broken_search(sub, ctx):
    raise ConnectionError("flight search API unreachable")


leaky = build_layered_graph(
    decompose=decompose,
    executors=[
        Executor("search", broken_search, context_keys=("user",)),
        Executor("book", book, context_keys=("user", "payment_token")),
        Executor("summarize", nosy_summarize),
    ],
    context_keys=("user", "payment_token"),
    on_failure="best_effort",
).compile()
out = leaky.invoke(request)
print("status:", out["status"])
table([(k, v) for k, v in out["results"].items()], ["subtask", "result"])
table(
    [{"subtask": k, **v} for k, v in out["failures"].items()],
    ["subtask", "executor", "error_type", "message", "retryable"],
    width=110,
)
assert out["status"] == "partial" and out["failures"]["s3"]["error_type"] == "ContextContractError"
"""
    ),
    md(
        """
**Why it matters:** the secret never reached the executor that had no business seeing it
(least privilege between layers), and one dependency going down cost one section, not the
whole answer. `on_failure="fail_all"` fails the run instead; `on_failure="retry"` re-runs only
the failed subtasks (contract errors are never retried).

## 3. Nesting is bounded: no runaway recursion

An executor may itself be a layered graph. Build-time nesting deeper than `max_depth` is a
`LayerDefinitionError`; a run-time recursion (an executor that calls a layered graph that calls
itself) ends `failed` with the chain of layers in the reason, never a hang.
"""
    ),
    code(
        """
from agentpatterns.errors import LayerDefinitionError


def leaf(sub, ctx):
    return "ok"


inner = build_layered_graph(
    decompose=lambda s: [Subtask(id="x", executor="leaf", inputs={})],
    executors=[Executor("leaf", leaf)],
    name="inner",
)
nested = build_layered_graph(
    decompose=lambda s: [Subtask(id="n1", executor="inner", inputs={"task": "sub"})],
    executors=[Executor("inner", inner, result_key="results")],
    name="outer",
)
out = nested.compile().invoke({"task": "two layers"})
print("nested status:", out["status"], "| results:", out["results"])
table(out["handoffs"], ["layer", "executor", "subtask", "ms"])

try:
    build_layered_graph(
        decompose=lambda s: [],
        executors=[Executor("inner", nested, result_key="results")],
        name="top",
        max_depth=2,
    )
except LayerDefinitionError as exc:
    print("LayerDefinitionError:", exc)

holder = {}


def recurse(sub, ctx):  # calls its own graph again: recursion without end
    return holder["graph"].invoke({"task": "again"})  # a failed inner run fails this one


holder["graph"] = build_layered_graph(
    decompose=lambda s: [Subtask(id="r", executor="recurse", inputs={})],
    executors=[Executor("recurse", recurse)],
    name="loop",
    on_failure="fail_all",
).compile()
looped = holder["graph"].invoke({"task": "recursive"})
print("recursive status:", looped["status"])
print("innermost reason:", looped["reason"].rsplit("(", 1)[-1][:220])
assert looped["status"] == "failed" and "LayerDepthError" in looped["reason"]
"""
    ),
    md(
        """
## 4. A reference graph: layered report generation

`graphs.report_generation` is an orchestrator over five analytics executors (`tools.analytics`
over the τ² retail store), each running one tool through the tool-orchestration executor with
an output contract. The decomposer picks the sections the request asks for.
"""
    ),
    code(
        """
from graphs.report_generation import build as build_report

report_graph = build_report().compile()
mermaid(report_graph.get_graph(xray=True).draw_mermaid())
report = report_graph.invoke({"task": "revenue and top customers", "top": 3})
print("status:", report["status"], "| sections:", sorted(report["results"]))
table(report["handoffs"], ["layer", "executor", "subtask", "ms", "bytes"])
display(Markdown(report["report"]))
assert report["status"] == "done"
"""
    ),
    md(
        """
## Takeaways

- The orchestrator decides *what* runs; executors do it with only the context they declared.
- One failing executor costs one result (`partial`), not the run; the failure says why.
- Depth is bounded at build time and at run time; hand-offs are measured per layer.
"""
    ),
]
