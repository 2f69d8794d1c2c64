"""Data the waiting-list workflow and its activities exchange: plain values only."""

from dataclasses import dataclass, field
from datetime import datetime

WAITING_LIST_WORKFLOW = "WaitingListWorkflow"
# "Places came back, or the list changed": the workflow reads what to do from the database.
PLACES_SIGNAL = "places_came_back"


def waiting_list_workflow_id(session_id: str) -> str:
    """One workflow per session with a waiting list."""
    return f"waiting-list-{session_id}"


@dataclass
class WaitingListInput:
    session_id: str


@dataclass
class Notice:
    """An email an entry is owed: of its offer (`offered`), or of its end (`expired`,
    `closed`); `offer_number` keys it, so each offer is told once."""

    entry_id: str
    state: str
    offer_number: int


@dataclass
class ListRound:
    """What one round of the list did and left: the emails owed, when to look again."""

    waiting: int  # entries still waiting
    offered: int  # open offers
    notices: list[Notice] = field(default_factory=list)
    wake_at: datetime | None = None  # the first offer's deadline, or the session's start
    ended: bool = False  # the session was cancelled or started, or its list closed

    @property
    def idle(self) -> bool:
        return not self.waiting and not self.offered
