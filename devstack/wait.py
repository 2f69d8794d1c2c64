"""`python -m devstack.wait PORT... -- COMMAND...`: run COMMAND once every port listens."""

import os
import sys

from devstack.ports import wait_for_port


def main() -> None:
    split = sys.argv.index("--")
    for port in sys.argv[1:split]:
        wait_for_port(int(port), timeout=120)
    command = sys.argv[split + 1 :]
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
