#!/usr/bin/env bash
# Runs once, when the postgres container initialises an empty data volume
# (/docker-entrypoint-initdb.d). Creates:
#   role booking  -> database booking                          (the booking engine)
#   role temporal -> databases temporal, temporal_visibility   (Temporal persistence + visibility)
# The temporal-schema one-shot (docker/temporal/setup-schema.sh) installs Temporal's schemas into
# the two databases, without creating them (they exist already). The visibility schema runs
# `CREATE EXTENSION btree_gin` as the temporal role: that works because btree_gin is a trusted
# extension (PostgreSQL 13+) and temporal owns the database. Don't pre-create the extension
# here: the schema's CREATE EXTENSION has no IF NOT EXISTS and would fail.
#
# The entrypoint may source this file instead of executing it (no exec bit on some checkouts), so
# it neither calls `exit` nor sets `-u`. Passwords go through psql variables, so any character is
# safe here (the app's BOOKING_DATABASE_URL still needs URL-escaping for special characters).
# To change a password later, use ALTER ROLE: this script never runs again on a non-empty volume.
set -eo pipefail

psql -v ON_ERROR_STOP=1 --no-psqlrc \
    --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
    -v booking_password="${BOOKING_DB_PASSWORD:?BOOKING_DB_PASSWORD is not set}" \
    -v temporal_password="${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD is not set}" <<'SQL'
CREATE ROLE booking LOGIN PASSWORD :'booking_password';
CREATE DATABASE booking OWNER booking;

CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
SQL

echo "init-databases: created databases booking, temporal, temporal_visibility"
