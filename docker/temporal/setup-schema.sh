#!/bin/sh
# One-shot (temporalio/admin-tools image, the server's own version): installs Temporal's schemas
# into the two databases docker/postgres/init-databases.sh made, or brings them up to this
# version, then exits 0; the server starts after it. The way Temporal's samples-server compose
# sets up PostgreSQL, without `create` (the databases exist, owned by the temporal role).
# Safe to re-run: `setup-schema -v 0.0` keeps an installed schema, `update-schema` applies only
# the versions a database lacks. A server upgrade is: new TEMPORAL_VERSION, `docker compose up`.
#
# Environment (read by temporal-sql-tool itself): SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER,
# SQL_PASSWORD.
set -eu

# The schemas embedded in the tool, as devstack/temporal_prod.py applies them to the server the
# tests run against (database:schema).
for pair in temporal:postgresql/v12/temporal temporal_visibility:postgresql/v12/visibility; do
    database="${pair%%:*}"
    schema="${pair#*:}"
    echo "setup-schema: $database"
    temporal-sql-tool --db "$database" setup-schema -v 0.0
    temporal-sql-tool --db "$database" update-schema --schema-name "$schema"
done
echo "setup-schema: done"
