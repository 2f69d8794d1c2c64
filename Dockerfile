# The booking engine's one image: the API (default command), the worker (`python worker.py`) and
# the migrations (`alembic upgrade head`) all run from the `app` stage. The `localstripe` stage
# adds the Stripe emulator on top, for the compose stack's default (fake) payments.
#
#   docker build -t booking-engine .                        # the app (last stage)
#   docker build --target localstripe -t booking-localstripe .
#
# Only runtime dependencies are installed, from requirements.lock (exact versions and hashes of
# `[project.dependencies]` and the `valkey` extra; `make lock` rewrites it), never the dev extras.
# The user is numeric (10001:10001), so Kubernetes' runAsNonRoot can verify it is not root.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS app

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /app

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin app

# The fonts receipts embed, at the Debian paths documents/fonts.py reads (the worker refuses to
# start without them).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core fonts-droid-fallback \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, from the lock, so editing the code does not reinstall them.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

# Then the project itself (`pip install .`; its dependencies are already in place). The source
# stays in /app too: alembic.ini and migrations/ are not part of the package, and the processes
# run from here (`python worker.py`, `alembic upgrade head`, `uvicorn api.main:create_app`).
COPY . .
# Bytecode compiled at build time: the workflow sandbox imports workflows/ for every new
# workflow, and /app is read-only at run time (bench/README.md: ~12 % more bookings/s).
RUN pip install --no-deps . \
    && rm -rf build ./*.egg-info \
    && python -m compileall -q /app \
    && mkdir -p /app/var \
    && chown app:app /app/var

# var/ is where the dev e-mail backend writes its .eml outbox; everything else is read-only.
USER 10001:10001

EXPOSE 8000
CMD ["uvicorn", "api.main:create_app", "--factory", "--log-config", "core/logging.json", "--host", "0.0.0.0", "--port", "8000"]


# localstripe (PyPI) with the project's wrapper (devstack/localstripe_server.py), which keeps
# its store where we say and registers our webhook endpoint. Its pin and hashes come from
# requirements-dev.lock; its dependencies (aiohttp, python-dateutil) are in the app's lock already,
# which `pip check` confirms.
FROM app AS localstripe

USER 0:0
RUN awk '/^localstripe==/ {found = 1} found {print; if (!/\\$/) exit}' requirements-dev.lock \
        > /tmp/localstripe.lock \
    && pip install --no-deps --require-hashes -r /tmp/localstripe.lock \
    && pip check \
    && rm /tmp/localstripe.lock \
    && mkdir -p /data \
    && chown app:app /data
USER 10001:10001

EXPOSE 8420
CMD ["python", "-m", "devstack.localstripe_server", "--port", "8420", "--store", "/data/localstripe.pickle"]


# Last stage = what a plain `docker build .` produces: the app image.
FROM app AS runtime
