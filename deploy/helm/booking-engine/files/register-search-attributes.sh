#!/usr/bin/env bash
# One-shot (temporalio/admin-tools image): makes the namespace if it is missing, registers the
# booking engine's custom search attributes in it, then exits 0. Safe to re-run: an existing
# namespace and existing attributes are left alone.
# Keep the list in step with messages/search_attributes.py (and the Procfile's dev-server flags).
#
# Environment: TEMPORAL_ADDRESS (host:port), NAMESPACE, optional NAMESPACE_RETENTION (e.g. 720h).
set -euo pipefail

address="${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS is not set}"
namespace="${NAMESPACE:-default}"

attributes=(
    "BookingStatus=Keyword"
    "BookingReference=Keyword"
    "SessionId=Keyword"
    "CustomerHash=Keyword"
    "HoldExpiresAt=Datetime"
    "OrganisationId=Keyword"
)

list_attributes() {
    temporal operator search-attribute list --address "$address" --namespace "$namespace"
}

# The server's port is open before this runs (compose waits for it); its roles may still start.
for attempt in $(seq 1 60); do
    if temporal operator cluster health --address "$address" >/dev/null 2>&1; then
        break
    fi
    if [[ $attempt == 60 ]]; then
        echo "register-search-attributes: no healthy Temporal server at $address" >&2
        exit 1
    fi
    sleep 2
done
if ! temporal operator namespace describe --address "$address" --namespace "$namespace" >/dev/null 2>&1; then
    echo "register-search-attributes: creating namespace $namespace"
    temporal operator namespace create --address "$address" --namespace "$namespace" \
        --retention "${NAMESPACE_RETENTION:-720h}"
fi

# The namespace cache can lag behind its creation.
for attempt in $(seq 1 60); do
    if existing="$(list_attributes 2>/dev/null)"; then
        break
    fi
    if [[ $attempt == 60 ]]; then
        echo "register-search-attributes: namespace $namespace not reachable at $address" >&2
        exit 1
    fi
    sleep 2
done

for pair in "${attributes[@]}"; do
    name="${pair%%=*}"
    type="${pair#*=}"
    if grep -Eq "(^|[[:space:]\"])${name}([[:space:]\"]|$)" <<<"$existing"; then
        echo "register-search-attributes: $name already registered"
        continue
    fi
    echo "register-search-attributes: creating $name ($type) in namespace $namespace"
    temporal operator search-attribute create --address "$address" --namespace "$namespace" \
        --name "$name" --type "$type"
done

# Verify, so a silent failure does not let the API and worker start without the attributes.
existing="$(list_attributes)"
for pair in "${attributes[@]}"; do
    name="${pair%%=*}"
    if ! grep -Eq "(^|[[:space:]\"])${name}([[:space:]\"]|$)" <<<"$existing"; then
        echo "register-search-attributes: $name is still missing" >&2
        exit 1
    fi
done

# How long closed bookings stay visible (UI, list queries). Best effort: a failure here is logged
# but does not stop the stack.
if [[ -n "${NAMESPACE_RETENTION:-}" ]]; then
    temporal operator namespace update --address "$address" --namespace "$namespace" \
        --retention "$NAMESPACE_RETENTION" \
        || echo "register-search-attributes: could not set retention to $NAMESPACE_RETENTION" >&2
fi

echo "register-search-attributes: done"
