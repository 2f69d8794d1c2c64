"""`make dev` helpers: `prepare` starts the private PostgreSQL, migrates and seeds; `stop` stops it.

Temporal, localstripe, the worker and the API are supervised by honcho (Procfile).
"""

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

from core.db import make_engine, make_sessionmaker
from core.settings import PROJECT_ROOT, get_settings
from devstack.migrate import migrate
from devstack.postgres import Cluster
from store.demo_data import seed

VAR = PROJECT_ROOT / "var"
DEV_PG_PORT = 55432


def dev_cluster() -> Cluster:
    return Cluster(Path(VAR / "postgres"), DEV_PG_PORT)


async def _seed() -> int:
    engine = make_engine(get_settings())
    try:
        async with make_sessionmaker(engine).begin() as db:
            return await seed(db, datetime.now(UTC), get_settings().api_key_pepper)
    finally:
        await engine.dispose()


def prepare() -> None:
    VAR.mkdir(exist_ok=True)
    VAR.chmod(0o755)
    cluster = dev_cluster()
    cluster.init()
    cluster.start()
    migrate(cluster.url)
    created = asyncio.run(_seed())
    print(f"dev: PostgreSQL on 127.0.0.1:{cluster.port}, {created} demo session(s) created")


if __name__ == "__main__":
    {"prepare": prepare, "stop": lambda: dev_cluster().stop()}[sys.argv[1]]()
