"""One session's waiting list: offers the places that come back, by the fairness rule of
`core.waiting_list`, until its sales end.

Started (or nudged) by signal-with-start when someone joins and whenever places come back (a
hold expires, a booking or some of its places is cancelled: `activities.inventory` nudges after
the release commits; an offer declined or left; the organiser pauses or closes the list); its
id is `waiting-list-<session>`. The database is the state: each round (`advance_waiting_list`,
one transaction) ends the list if the session was cancelled, started or its list closed, lets
offers past their deadline lapse, and offers the free places, holding them for the offer in the
transaction that takes them from the free pool. The workflow then emails what each entry is owed
(each once; one the mail service fails past its bound is tried again by a later round) and
sleeps until a nudge, the first offer's deadline (its durable timer) or the session's start.
It completes when the list has ended, or when no one waits and no offer is
open (a nudge that arrives as it completes fails that completion, and it looks again; a later
join starts a new run).
"""

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.waiting_list import WaitingListActivities
    from documents.receipt_data import format_utc
    from messages.waiting_list import PLACES_SIGNAL, ListRound, WaitingListInput
    from workflows.options import DATABASE_STEP, EMAIL_STEP


@workflow.defn(name="WaitingListWorkflow")
class WaitingListWorkflow:
    def __init__(self) -> None:
        self._nudged = False

    @workflow.signal(name=PLACES_SIGNAL)
    def places_came_back(self) -> None:
        self._nudged = True

    @workflow.run
    async def run(self, input: WaitingListInput) -> int:
        """How many rounds this run made."""
        rounds = 0
        while True:
            self._nudged = False
            round = await workflow.execute_activity_method(
                WaitingListActivities.advance,
                input.session_id,
                summary="offer the free places",
                **DATABASE_STEP,
            )
            rounds += 1
            workflow.set_current_details(_details(round))
            for notice in round.notices:
                try:
                    await workflow.execute_activity_method(
                        WaitingListActivities.send_email,
                        notice,
                        summary=f"email {notice.state}",
                        **EMAIL_STEP,
                    )
                except ActivityError:  # the mail service down past the bound: the next round
                    workflow.logger.warning("waiting-list email %s not sent yet", notice)
            if round.ended or (round.idle and not self._nudged):
                return rounds
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(input)
            await self._sleep(round)

    async def _sleep(self, round: ListRound) -> None:
        timeout = None
        if round.wake_at is not None:
            timeout = max(round.wake_at - workflow.now(), timedelta(seconds=0)) + timedelta(
                milliseconds=100
            )
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._nudged, timeout=timeout)


def _details(round: ListRound) -> str:
    """Where the list stands, as the Temporal UI shows it: counts only, nothing personal."""
    if round.ended:
        return "**ended** — offers withdrawn, entries closed"
    lines = [f"**{round.waiting} waiting · {round.offered} offered**"]
    if round.wake_at is not None:
        lines.append(f"Next look {format_utc(round.wake_at)}")
    return "\n\n".join(lines)
