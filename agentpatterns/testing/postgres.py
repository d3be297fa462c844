"""Start a real, throw-away PostgreSQL server for tests.

``initdb`` + ``pg_ctl`` on a free 127.0.0.1 port, in a temporary folder, as a non-root user
(PostgreSQL refuses to run as root: when we are root we run it as the ``postgres`` system
user). :meth:`PostgresServer.stop` removes everything it created.

Example:
    >>> from agentpatterns.testing.postgres import PostgresServer, postgres_available
    >>> if postgres_available():  # doctest: +SKIP
    ...     with PostgresServer() as server:
    ...         print(server.url)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

__all__ = ["PostgresServer", "PostgresUnavailable", "find_pg_bin", "postgres_available"]

_PG_SEARCH = [
    "/usr/lib/postgresql/15/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/17/bin",
    "/usr/local/bin",
    "/usr/bin",
]


class PostgresUnavailable(RuntimeError):
    """PostgreSQL binaries are missing or the server did not start."""


def find_pg_bin() -> Path | None:
    """Folder holding ``initdb`` and ``pg_ctl``, or None."""
    override = os.environ.get("AGENTPATTERNS_PG_BIN")
    candidates = [override] if override else []
    found = shutil.which("initdb")
    if found:
        candidates.append(str(Path(found).resolve().parent))
    candidates.extend(_PG_SEARCH)
    for folder in candidates:
        if folder and (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def postgres_available() -> bool:
    """True when a server can be started here (binaries present; a non-root user exists)."""
    if find_pg_bin() is None:
        return False
    return os.geteuid() != 0 or (shutil.which("su") is not None and _user_exists("postgres"))


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """A PostgreSQL server on 127.0.0.1 for the life of a test session."""

    def __init__(self, *, user: str = "postgres") -> None:
        found = find_pg_bin()
        if found is None:
            raise PostgresUnavailable("initdb/pg_ctl not found; install PostgreSQL 15")
        self.bin: Path = found
        self.run_as = user if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="agentpatterns-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._started = False

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.run_as:
            cmd = ["su", self.run_as, "-s", "/bin/sh", "-c", " ".join(_quote(a) for a in cmd)]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=120, check=False, cwd=str(self.root)
        )
        if proc.returncode != 0:
            raise PostgresUnavailable(
                f"{args[0]} failed ({proc.returncode}): "
                f"{proc.stderr.strip() or proc.stdout.strip()}"
            )

    def start(self) -> PostgresServer:
        """initdb and start; returns self. Raises PostgresUnavailable on failure."""
        if self.run_as:
            shutil.chown(self.root, user=self.run_as)
            os.chmod(self.root, 0o700)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        opts = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.root / "log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        self._started = True
        return self

    def stop(self) -> None:
        """Stop the server (fast mode) and delete its folder."""
        try:
            if self._started:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            self._started = False
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)
