"""Shared crash-test plumbing: the zygote loop (worker side) and its driver (test side).

Not a test module. A crash test starts a worker script once as a *zygote*: the script imports
what its workers need, then calls :func:`serve`, which reads JSON commands on stdin and forks
``cmd.get("copies", 1)`` workers per command, so the test can SIGKILL workers at random
points without paying Python's start-up each time. The zygote reaps each worker (no zombies:
a liveness check must see a killed owner as gone) and reports ``{"exit": pid, "status": ...}``.

Workers speak one JSON object per line through :func:`say`: ``{"ready": pid}`` once they
start working, ``{"finished": thread, ...}`` per finished thread and ``{"reconcile": key,
...}`` when they reconcile an effect; :class:`Zygote` (the test side) collects those.

Imported by path: test modules use ``from .._crash import ...`` (pytest's importlib mode),
worker scripts put ``tests/`` on ``sys.path`` and ``import _crash``.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any


# -- worker side ------------------------------------------------------------------------------
def say(**msg: Any) -> None:
    """Write one JSON message line to the zygote's stdout."""
    sys.stdout.write(json.dumps(msg, default=str) + "\n")
    sys.stdout.flush()


def serve(work: Callable[[dict[str, Any]], None]) -> None:
    """The zygote loop: fork ``copies`` workers running ``work(cmd)`` per stdin command."""
    for line in sys.stdin:
        cmd = json.loads(line)
        pids: list[int] = []
        for _ in range(cmd.get("copies", 1)):  # copies > 1: workers racing on one thread
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    work(cmd)
                except BaseException:
                    traceback.print_exc()
                    code = 1
                sys.stdout.flush()
                os._exit(code)
            pids.append(pid)
        say(pids=pids)
        for pid in pids:
            _, status = os.waitpid(pid, 0)
            say(exit=pid, status=status)


# -- test side --------------------------------------------------------------------------------
def killed(status: int) -> bool:
    """Whether a wait status says the worker died of SIGKILL."""
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


class Zygote:
    """Drives a zygote worker script: send commands, kill workers, collect what they say.

    ``finished`` maps each reported thread to its message's ``status`` (None if absent);
    ``reconciles`` keeps every ``reconcile`` message.
    """

    def __init__(self, worker: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(worker)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.reconciles: list[dict[str, Any]] = []
        self.finished: dict[str, Any] = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                msg = json.loads(line)
                if "reconcile" in msg:
                    self.reconciles.append(msg)
                elif "finished" in msg:
                    self.finished[msg["finished"]] = msg.get("status")
                else:
                    self.lines.put(msg)

    def _next(self, key: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            msg = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            if key in msg:
                return msg
            if "exit" in msg:  # a worker ended before saying what we wait for
                self.lines.put(msg)
                if key == "ready":
                    return msg

    def run(self, cmd: dict[str, Any], kill_after: float | None) -> list[int]:
        """Run one command; SIGKILL its workers after ``kill_after`` s. Returns statuses."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        pids = self._next("pids")["pids"]
        if kill_after is not None:
            self._next("ready")  # kill during the work, not during start-up
            time.sleep(kill_after)
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        return [int(self._next("exit")["status"]) for _ in pids]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
