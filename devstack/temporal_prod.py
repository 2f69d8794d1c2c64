"""The production-shaped Temporal server: the real server binary, PostgreSQL persistence and SQL
visibility, several history shards. Built and started only when asked for (the bench's
`--servers prod`, `make test-prod-temporal`); `make dev` and `make test` use the dev server.

`python -m devstack.temporal_prod build` compiles the server and its SQL schema tool with Go
into .tools/bin (minutes the first time, then nothing). A server is prepared in a PostgreSQL
cluster of ours (devstack.postgres): its two databases created and their schemas applied by the
schema tool, then a config written with HISTORY_SHARDS shards, our search attributes registered
on the namespace, and a list query filtered by one of them run until it answers.
"""

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from devstack.ports import free_port, free_port_below
from devstack.postgres import SERVER_USER, Cluster
from devstack.tools import TOOLS_BIN, temporal_cli
from messages.search_attributes import BOOKING_STATUS, cli_types

SERVER_VERSION = "1.29.1"
SERVER_MODULE = "go.temporal.io/server"
PACKAGES = {"server": "cmd/server", "sql": "cmd/tools/sql"}  # binary name -> package
HISTORY_SHARDS = 4
NAMESPACE = "default"
# Database name -> the schema embedded in the tool (schema/postgresql/v12/ of the module).
SCHEMAS = {
    "temporal": "postgresql/v12/temporal",
    "temporal_visibility": "postgresql/v12/visibility",
}
CONFIG_ENV = "production-shaped"  # the server reads config/<env>.yaml under its root
READY_SECONDS = 90.0


class ServerMissing(RuntimeError):
    pass


def _go() -> str:
    found = shutil.which("go") or "/usr/local/go/bin/go"
    if not Path(found).exists():
        raise ServerMissing("Go is needed to build the Temporal server: install Go 1.24 or newer")
    return found


def binary(name: str) -> Path:
    """The built `server` or `sql` (the schema tool) in .tools/bin; `built()` checks versions."""
    path = TOOLS_BIN / name
    if not path.exists():
        raise ServerMissing(f"{path} is missing: run `python -m devstack.temporal_prod build`")
    return path


def built() -> bool:
    try:
        version = subprocess.run(
            [str(binary("server")), "--version"], capture_output=True, text=True
        ).stdout
        binary("sql")
    except ServerMissing:
        return False
    return SERVER_VERSION in version


def build() -> None:
    """`go install` both binaries into .tools/bin, unless they are there at our version."""
    if built():
        return
    TOOLS_BIN.mkdir(parents=True, exist_ok=True)
    print(f"building Temporal server {SERVER_VERSION} with Go (minutes the first time) ...")
    subprocess.run(
        [_go(), "install", *(f"{SERVER_MODULE}/{p}@v{SERVER_VERSION}" for p in PACKAGES.values())],
        env={**os.environ, "GOBIN": str(TOOLS_BIN)},
        check=True,
    )


@dataclass
class ProdTemporal:
    """One server's folder, ports and databases in `cluster` (which must be running)."""

    root: Path
    cluster: Cluster
    ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.ports:
            names = ("frontend", "frontend_http", "history", "matching", "worker")
            self.ports = {name: free_port() for name in names} | {
                # Its cluster_membership table keeps the port in a smallint.
                f"{name}_membership": free_port_below(2**15)
                for name in ("frontend", "history", "matching", "worker")
            }

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.ports['frontend']}"

    def argv(self) -> list[str]:
        return [
            str(binary("server")),
            *("--root", str(self.root), "--config", "config", "--env", CONFIG_ENV),
            "--allow-no-auth",
            "start",
        ]

    def prepare(self) -> None:
        """The databases and their schemas (as the cluster's `postgres` user), and the config."""
        for database, schema in SCHEMAS.items():
            if not self.cluster.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}'"):
                self._schema_tool(database, "create-database")
            self._schema_tool(database, "setup-schema", "-v", "0.0")
            self._schema_tool(database, "update-schema", "--schema-name", schema)
        config = self.root / "config"
        config.mkdir(parents=True, exist_ok=True)
        (config / f"{CONFIG_ENV}.yaml").write_text(self.config())

    def _schema_tool(self, database: str, *command: str) -> None:
        argv = [
            str(binary("sql")),
            *("--plugin", "postgres12", "--ep", "127.0.0.1", "-p", str(self.cluster.port)),
            *("-u", SERVER_USER, "--db", database, "--quiet"),
            *command,
        ]
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(
                f"temporal sql tool {' '.join(command)} on {database}: {done.stderr}"
            )

    def config(self) -> str:
        """The server's YAML: every service in one process on our ports, PostgreSQL for both
        stores, HISTORY_SHARDS shards, no archival, no metrics endpoint, warnings only."""
        p = self.ports

        def store(database: str, conns: int) -> str:
            return f"""
      sql:
        pluginName: postgres12
        databaseName: {database}
        connectAddr: "127.0.0.1:{self.cluster.port}"
        connectProtocol: tcp
        user: {SERVER_USER}
        password: ""
        maxConns: {conns}
        maxIdleConns: {conns}
        maxConnLifetime: 1h"""

        def service(name: str) -> str:
            http = f"\n      httpPort: {p['frontend_http']}" if name == "frontend" else ""
            return f"""
  {name}:
    rpc:
      grpcPort: {p[name]}
      membershipPort: {p[f"{name}_membership"]}
      bindOnLocalHost: true{http}"""

        services = "".join(service(name) for name in ("frontend", "history", "matching", "worker"))
        return f"""log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: {HISTORY_SHARDS}
  datastores:
    default:{store("temporal", 20)}
    visibility:{store("temporal_visibility", 10)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:{services}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "{self.address}"
dcRedirectionPolicy:
  policy: noop
"""

    def register(self, alive: Callable[[], bool], timeout: float = READY_SECONDS) -> None:
        """The namespace and our search attributes, then wait until visibility filters on one;
        `alive` says whether the server process still runs."""
        deadline = time.monotonic() + timeout
        commands = [
            ["operator", "namespace", "create", "--retention", "72h"],
            *(
                ["operator", "search-attribute", "create", "--name", name, "--type", kind]
                for name, kind in cli_types().items()
            ),
            ["workflow", "list", "--query", f"{BOOKING_STATUS.name} = 'HELD'", "--limit", "1"],
        ]
        for command in commands:
            self._until(deadline, alive, command)

    def _until(self, deadline: float, alive: Callable[[], bool], command: list[str]) -> None:
        """Run a `temporal` CLI command against this server until it succeeds."""
        argv = [str(temporal_cli()), *command, "--address", self.address, "-n", NAMESPACE]
        while True:
            done = subprocess.run(argv, capture_output=True, text=True)
            if done.returncode == 0 or "already" in done.stderr.lower():
                return
            if not alive():
                raise RuntimeError("the Temporal server exited while starting")
            if time.monotonic() > deadline:
                raise TimeoutError(f"temporal {' '.join(command)}: {done.stderr.strip()}")
            time.sleep(0.5)


@contextmanager
def serving(root: Path, cluster: Cluster, log: Path) -> Iterator[ProdTemporal]:
    """Prepare and run a server (the tests' fixture); it is stopped on the way out."""
    server = ProdTemporal(root, cluster)
    server.prepare()
    with log.open("ab") as out:
        process = subprocess.Popen(server.argv(), stdout=out, stderr=subprocess.STDOUT)
    try:
        server.register(lambda: process.poll() is None)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    if sys.argv[1:] != ["build"]:
        sys.exit("usage: python -m devstack.temporal_prod build")
    build()
