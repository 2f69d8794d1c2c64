"""The customer's key in Temporal visibility: a keyed hash of the email, never the email; and
the one normalisation of email addresses everything that matches a customer uses.

Search attributes are not covered by the payload codec, so a booking is found by this value
(`CustomerHash = "..."`). The API computes it when a booking starts and the operator command
line computes it from an email it is given; both use this function and the same key.
"""

import hashlib
import hmac
import unicodedata


def normalise_email(email: str) -> str:
    """The form every spelling of one address shares, and the only one: compatibility
    characters composed (NFKC: `ﬁ` is `fi`), case folded the Unicode way (`ß` is `ss`, `İ` is
    `i̇`), surrounding space gone. Stored with each booking (`customer_email_normalised`) and
    compared there, never through PostgreSQL's `lower()`, which folds differently.

    NFKC again after folding: folding can leave a string that NFKC would still change."""
    folded = unicodedata.normalize("NFKC", email).casefold()
    return unicodedata.normalize("NFKC", folded).strip()


def customer_hash(email: str, key: str) -> str:
    """HMAC-SHA256 of the normalised email under `key` (the `customer_hash_key` setting), as
    64 hex digits. Without the key, a list of known emails cannot be matched against it."""
    digest = hmac.new(key.encode(), normalise_email(email).encode(), hashlib.sha256)
    return digest.hexdigest()
