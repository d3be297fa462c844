"""Names used on spans, span events, metrics and log records (DESIGN "Observability
conventions"; OpenTelemetry GenAI semantic conventions where one exists).

Spans:

* ``invoke_workflow {graph}``: one per graph run (``stream``/``invoke``/``astream``/
  ``ainvoke``); ``gen_ai.operation.name=invoke_workflow``, ``gen_ai.workflow.name``,
  ``gen_ai.conversation.id`` (thread id), ``agentpatterns.run.id``.
* ``invoke_node {node}``: child of the run span, one per node attempt;
  ``agentpatterns.node.{name,step,attempt,checkpoint_id,checkpoint_ns,task_id}``;
  ``agentpatterns.node.keys_changed`` (comma-joined string: an array attribute costs 5x
  more); ``agentpatterns.node.interrupted`` on an interrupt.
* ``execute_tool {tool}``: child of the node span; ``gen_ai.tool.{name,call.id,type}``,
  with content capture ``gen_ai.tool.call.arguments`` / ``gen_ai.tool.call.result``.
* ``chat {model}``: child of the node span; ``gen_ai.request.model``, ``gen_ai.provider.name``,
  ``gen_ai.usage.{input,output}_tokens``; with content capture ``gen_ai.input.messages`` /
  ``gen_ai.output.messages``.
* Span event ``agentpatterns.transition`` with ``agentpatterns.transition.{from,to,reason,
  step}`` for each FSM transition a node returned.
* Errors: ``error.type`` and status ERROR; ``GraphInterrupt`` / ``GraphBubbleUp`` are not
  errors.

Metrics: :data:`DURATION` (histogram, seconds, by ``gen_ai.operation.name``), counters in
:data:`EVENT_COUNTERS` fed by :mod:`agentpatterns.events`.

Log events (OpenTelemetry logs API): :data:`LOG_STATE_CHANGE` per node run (keys changed;
values only with content capture) and :data:`LOG_TRANSITION` per FSM transition.
"""

from __future__ import annotations

from typing import Final

SCOPE: Final = "agentpatterns"

OPERATION: Final = "gen_ai.operation.name"
WORKFLOW_NAME: Final = "gen_ai.workflow.name"
CONVERSATION_ID: Final = "gen_ai.conversation.id"
RUN_ID: Final = "agentpatterns.run.id"
WORKFLOW_INPUT: Final = "agentpatterns.workflow.input"
WORKFLOW_OUTPUT: Final = "agentpatterns.workflow.output"
WORKFLOW_INTERRUPTED: Final = "agentpatterns.workflow.interrupted"

NODE_NAME: Final = "agentpatterns.node.name"
NODE_STEP: Final = "agentpatterns.node.step"
NODE_ATTEMPT: Final = "agentpatterns.node.attempt"
NODE_CHECKPOINT_ID: Final = "agentpatterns.node.checkpoint_id"
NODE_CHECKPOINT_NS: Final = "agentpatterns.node.checkpoint_ns"
NODE_TASK_ID: Final = "agentpatterns.node.task_id"
NODE_KEYS: Final = "agentpatterns.node.keys_changed"
NODE_INTERRUPTED: Final = "agentpatterns.node.interrupted"
NODE_INPUT: Final = "agentpatterns.node.input"
NODE_OUTPUT: Final = "agentpatterns.node.output"

TOOL_NAME: Final = "gen_ai.tool.name"
TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
TOOL_TYPE: Final = "gen_ai.tool.type"
TOOL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
TOOL_RESULT: Final = "gen_ai.tool.call.result"

REQUEST_MODEL: Final = "gen_ai.request.model"
RESPONSE_MODEL: Final = "gen_ai.response.model"
PROVIDER: Final = "gen_ai.provider.name"
INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
INPUT_MESSAGES: Final = "gen_ai.input.messages"
OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
TOKEN_TYPE: Final = "gen_ai.token.type"

ERROR_TYPE: Final = "error.type"
EXCEPTION_EVENT: Final = "exception"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"

TRANSITION_EVENT: Final = "agentpatterns.transition"
TRANSITION_FROM: Final = "agentpatterns.transition.from"
TRANSITION_TO: Final = "agentpatterns.transition.to"
TRANSITION_REASON: Final = "agentpatterns.transition.reason"
TRANSITION_STEP: Final = "agentpatterns.transition.step"

OP_WORKFLOW: Final = "invoke_workflow"
OP_NODE: Final = "invoke_node"
OP_TOOL: Final = "execute_tool"
OP_CHAT: Final = "chat"

DURATION: Final = "gen_ai.client.operation.duration"
TOKEN_USAGE: Final = "gen_ai.client.token.usage"
#: Event kind (agentpatterns.events) -> counter name.
EVENT_COUNTERS: Final[dict[str, str]] = {
    "transition": "agentpatterns.transitions",
    "retry": "agentpatterns.retries",
    "retry_exhausted": "agentpatterns.retries.exhausted",
    "breaker_state": "agentpatterns.breaker.state_changes",
    "rollback": "agentpatterns.rollbacks",
    "escalation": "agentpatterns.escalations",
    "tool_error": "agentpatterns.tool.errors",
    "node_error": "agentpatterns.node.errors",
    "fallback": "agentpatterns.fallbacks",
    "compensation_failed": "agentpatterns.compensations.failed",
    "effect_in_doubt": "agentpatterns.effects.in_doubt",
}
#: Event attributes copied onto counter points (low-cardinality ones only).
EVENT_COUNTER_ATTRS: Final[tuple[str, ...]] = (
    "tool", "target", "name", "old", "new", "error_type", "frm", "to", "node",
)  # fmt: skip

LOG_STATE_CHANGE: Final = "agentpatterns.state_change"
LOG_TRANSITION: Final = "agentpatterns.transition"


def error_type(exc: BaseException) -> str:
    """``error.type`` value: the exception's qualified class name."""
    cls = type(exc)
    module = cls.__module__
    return (
        cls.__qualname__ if module in ("builtins", "__main__") else f"{module}.{cls.__qualname__}"
    )
