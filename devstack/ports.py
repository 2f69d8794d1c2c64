"""Free loopback ports and waiting for a server to listen."""

import random
import socket
import time

# The kernel hands out ports from here up to bind(0) and to every outgoing connection.
EPHEMERAL_PORTS_FROM = 32768


def free_port() -> int:
    """A free port for a server we start, below the kernel's ephemeral range: a port the kernel
    handed out would be free only until it hands it out again, to an outgoing connection or
    another process's bind(0) (two test workers at once: "address already in use")."""
    return free_port_below(EPHEMERAL_PORTS_FROM)


def free_port_below(limit: int, low: int = 10000) -> int:
    """A free port under `limit`, drawn at random."""
    while True:
        port = random.randrange(low, limit)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")
