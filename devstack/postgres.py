"""A private PostgreSQL cluster in a folder of ours, on the Debian server binaries.

PostgreSQL refuses to run as root, so when we are root every server command runs as the
`postgres` user that the Debian package creates, and the data folder belongs to it.
"""

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SERVER_USER = "postgres"


class PostgresMissing(RuntimeError):
    pass


def find_bindir() -> Path:
    """The newest installed server's bin folder (initdb is not on PATH on Debian)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if not candidates:
        raise PostgresMissing(
            "PostgreSQL server binaries are missing: run `apt-get install -y postgresql`"
        )
    return candidates[-1].parent


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *argv] if os.geteuid() == 0 else argv


@dataclass
class Cluster:
    datadir: Path
    port: int
    database: str = "booking"
    user: str = "booking"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{self.database}"

    @property
    def pid(self) -> int:
        """The postmaster's process id (its backends are its children)."""
        return int((self.datadir / "postmaster.pid").read_text().split()[0])

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = _as_server_user([str(find_bindir() / tool), *args])
        return subprocess.run(argv, check=check, capture_output=True, text=True)

    def init(self) -> None:
        """initdb once; an existing cluster is kept with its data."""
        if (self.datadir / "PG_VERSION").exists():
            return
        self.datadir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.datadir, SERVER_USER, SERVER_USER)
        self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        )

    def start(self, *, durable: bool = True) -> None:
        """Start on 127.0.0.1:port; `durable=False` (tests, bench) trades crash safety for speed."""
        options = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.datadir}",
            "-c max_connections=200",
        ]
        if not durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        status = self._run("pg_ctl", "-D", str(self.datadir), "status", check=False)
        if status.returncode != 0:
            self._run(
                "pg_ctl",
                "-D",
                str(self.datadir),
                "-l",
                str(self.datadir / "server.log"),
                "-o",
                " ".join(options),
                "-w",
                "-t",
                "60",
                "start",
            )
        self._create_role_and_database()

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop", check=False)

    def psql(self, sql: str, database: str = "postgres") -> str:
        argv = [
            str(find_bindir() / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-tAc",
            sql,
        ]
        return subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip()

    def _create_role_and_database(self) -> None:
        for _ in range(50):
            try:
                exists = self.psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{self.user}'")
                break
            except subprocess.CalledProcessError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"PostgreSQL on port {self.port} does not answer")
        if not exists:
            self.psql(f'CREATE ROLE "{self.user}" LOGIN')
        if not self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"):
            self.psql(f'CREATE DATABASE "{self.database}" OWNER "{self.user}"')
