"""The customer's key in Temporal visibility: a keyed hash of the email, never the email.

Search attributes are not covered by the payload codec, so a booking is found by this value
(`CustomerHash = "..."`). The API computes it when a booking starts and the operator command
line computes it from an email it is given; both use this function and the same key.
"""

import hashlib
import hmac


def normalise_email(email: str) -> str:
    """The form two spellings of one address share: surrounding space gone, case folded."""
    return email.strip().casefold()


def customer_hash(email: str, key: str) -> str:
    """HMAC-SHA256 of the normalised email under `key` (the `customer_hash_key` setting), as
    64 hex digits. Without the key, a list of known emails cannot be matched against it."""
    digest = hmac.new(key.encode(), normalise_email(email).encode(), hashlib.sha256)
    return digest.hexdigest()
