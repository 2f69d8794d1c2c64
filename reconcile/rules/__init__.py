"""The rules of the consistency check, as pure functions over what was read.

Each returns the violations it sees; `reconcile.consistency.check` reads and calls them. One
module per invariant (or pair of invariants read together); `vocabulary` names every kind of
finding (`Rule`) and the invariant it breaks, so the whole definition of "consistent" starts
there.
"""

from reconcile.rules.books import books
from reconcile.rules.documents import documents
from reconcile.rules.mirror import mirror
from reconcile.rules.money import money, scoped_intents
from reconcile.rules.offers import accepted_without_booking, offers
from reconcile.rules.places import places
from reconcile.rules.vocabulary import Invariant, Rule, Violation

__all__ = [
    "Invariant",
    "Rule",
    "Violation",
    "accepted_without_booking",
    "books",
    "documents",
    "mirror",
    "money",
    "offers",
    "places",
    "scoped_intents",
]
