"""A real PostgreSQL 15 server for tests: initdb in a temporary directory, a loopback port, stopped afterwards.

As root (CI), the server runs as the `postgres` system user, which PostgreSQL insists on.
Connections over TCP need the password (scram-sha-256), so a refused password can be tested.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

def _server_bin() -> Path:
    """The PostgreSQL binaries: HYPERLOOM_PG_BIN, else 15 (these machines), else the newest Debian installed."""
    if os.environ.get("HYPERLOOM_PG_BIN"):
        return Path(os.environ["HYPERLOOM_PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    preferred = Path("/usr/lib/postgresql/15/bin")
    return preferred if (preferred / "initdb").exists() or not found else found[-1].parent


BIN = _server_bin()
PASSWORD = "hyperloom-test"
# What the README asks of a server whose forgetting must leave no trace: WAL segments are removed, not renamed for
# reuse with the old records still in them; nothing keeps WAL past a checkpoint.
FORGETTING = {"wal_recycle": "off", "wal_keep_size": "0", "archive_mode": "off"}


class PostgresServer:
    def __init__(self, settings: dict[str, str] | None = None) -> None:
        if not (BIN / "initdb").exists():
            raise RuntimeError(f"{BIN / 'initdb'} is missing: install the Debian package postgresql (.ci/run does)")
        self.dir = Path(tempfile.mkdtemp(prefix="hl-pg-"))  # not under pytest's 0700 tree: the postgres user must reach it
        self.port = _free_port()
        self._names = itertools.count()
        self._as_root = os.geteuid() == 0
        self.settings = FORGETTING if settings is None else settings
        (self.dir / "pw").write_text(PASSWORD + "\n")
        if self._as_root:
            shutil.chown(self.dir, "postgres", "postgres")
            shutil.chown(self.dir / "pw", "postgres", "postgres")
        self._run("initdb", "-D", str(self.dir / "data"), "-U", "postgres", "--pwfile", str(self.dir / "pw"), "--auth-local=trust", "--auth-host=scram-sha-256", "--locale=C", "--encoding=UTF8", "--no-sync")
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c max_connections=200"
        options += "".join(f" -c {name}={value}" for name, value in self.settings.items())
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-o", options, "-w", "-t", "60", "start")

    @property
    def data(self) -> Path:
        """The server's data directory: base/, pg_wal/ and the rest."""
        return self.dir / "data"

    def url(self, database: str = "postgres", password: str = PASSWORD) -> str:
        return f"postgresql://postgres:{password}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; returns its URL (each test gets its own)."""
        name = f"t{os.getpid()}_{next(self._names)}"
        self.sql(f"CREATE DATABASE {name}")
        return self.url(name)

    def sql(self, statement: str, database: str = "postgres") -> list[tuple]:
        """Run one statement as the superuser over the Unix socket (no password); returns its rows."""
        import psycopg

        with psycopg.connect(host=str(self.dir), port=self.port, user="postgres", dbname=database, autocommit=True) as conn:
            cur = conn.execute(statement)
            return cur.fetchall() if cur.description else []

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def restart(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")
        self.start()  # not `pg_ctl restart`: it would keep our stdout pipe open, without the log file

    def _run(self, program: str, *args: str) -> str:
        command = [str(BIN / program), *args]
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.dir)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
