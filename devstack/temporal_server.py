"""The Temporal dev server as this project runs it: search attributes registered, one host
tuned to behave like a cluster. `python -m devstack.temporal_server [start-dev options]`.

The dev server runs one history shard and four partitions per task queue. Its transfer queue
then loads new tasks at most 20 times a second (under steady load every dispatch waits up to
50 ms), and one worker's few pollers leave partitions unpolled (tasks wait up to seconds).
A production cluster spreads both over many shards and pollers (bench/README.md).
"""

import os
import sys
from collections.abc import Sequence
from enum import StrEnum

from devstack.ports import free_port
from devstack.tools import temporal_cli
from messages.search_attributes import dev_server_flags


class ServerKind(StrEnum):
    """Which Temporal server a stack or the test suite runs."""

    DEV = "dev"  # `temporal server start-dev`: one process, one history shard, SQLite or memory
    PROD = "prod"  # the production-shaped server of devstack/temporal_prod.py


SINGLE_HOST_DYNAMIC_CONFIG = (
    "matching.numTaskqueueReadPartitions=1",
    "matching.numTaskqueueWritePartitions=1",
    "history.transferProcessorMaxPollRPS=1000",
)


def dynamic_config_flags(values: Sequence[str] = SINGLE_HOST_DYNAMIC_CONFIG) -> list[str]:
    return [flag for value in values for flag in ("--dynamic-config-value", value)]


def side_ports() -> list[str]:
    """The dev server's HTTP API and metrics ports, chosen by us (left to the server, they are
    ports the kernel may hand to another process first)."""
    return ["--http-port", str(free_port()), "--metrics-port", str(free_port())]


def start_dev_args(dynamic_config: Sequence[str] = SINGLE_HOST_DYNAMIC_CONFIG) -> list[str]:
    """`temporal server start-dev` with our search attributes and dynamic config."""
    return ["server", "start-dev", *dev_server_flags(), *dynamic_config_flags(dynamic_config)]


if __name__ == "__main__":
    cli = str(temporal_cli())
    os.execv(cli, [cli, *start_dev_args(), *sys.argv[1:]])
