"""How the booking workflow calls its activities (timeouts, retries) and its patch names.

Editing this file changes what running workflows do next, not what they did: a timeout or a
retry policy may change freely (neither is replayed). What does need care is in the workflow.

The release baseline: the workflow code as released holds no `workflow.patched` branch (the
engine never ran in production before it), and its histories under tests/workflows/histories/
are that baseline's. From it on, any edit that adds, removes, reorders or renames a command (an
activity, timer, child or search-attribute upsert) that running workflows would see:
1. sits behind `workflow.patched("<name>-YYYY-MM-DD")` (a constant here, dated the day its
   release ships, and listed in LIVE_PATCHES) with a history recorded with the new code
   committed beside the old ones (`RECORD_HISTORIES=1` on the test that records it);
2. becomes `workflow.deprecate_patch(...)` (the old branch deleted) once no workflow started
   before the patch is open or within the namespace's retention (its LIVE_PATCHES entry gets
   the deprecation's release day);
3. is deleted, with the histories that only replay the old branch and its LIVE_PATCHES entry,
   once no workflow started before the deprecation is open or within retention.
`booking-ops workflows patches` says, from visibility, when each step may be taken.
"""

from datetime import date, timedelta
from typing import TypedDict

from temporalio.common import RetryPolicy


class StepOptions(TypedDict, total=False):
    """Timeouts and retries of one kind of activity call."""

    start_to_close_timeout: timedelta
    schedule_to_close_timeout: timedelta
    retry_policy: RetryPolicy


# Every step's retries end, by attempts or by schedule_to_close_timeout (local activities ignore
# the latter when retrying, temporalio 1.35, so theirs end by attempts), unless its reason is
# written in UNBOUNDED_REASONS. RELIABILITY.md ("Bounds") says what each caller does at the
# bound; tests/workflows/test_step_bounds.py holds every option used to this.

DATABASE_STEP: StepOptions = {
    "start_to_close_timeout": timedelta(seconds=10),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=20)
    ),
}
# The caller is waiting for the hold: when the database is down, say so instead of hanging.
# Local activities ignore schedule_to_close_timeout when retrying (temporalio 1.35): the
# attempts bound it too (0.2 + 0.4 + ... + 6.4 s of backoff, about 13 s).
RESERVE_STEP: StepOptions = {
    **DATABASE_STEP,
    "schedule_to_close_timeout": timedelta(seconds=20),
    "retry_policy": RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=6),
}
# Stripe's refusals are never retried (activities.payments classifies every error); what is
# retried is Stripe not answering (the network, 429, 409, 5xx), for about 10 minutes: 1 + 2 +
# ... + 32 s, then every minute. Past that the step fails with PaymentProviderUnavailable.
STRIPE_STEP: StepOptions = {
    "start_to_close_timeout": timedelta(seconds=30),
    "schedule_to_close_timeout": timedelta(minutes=10),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=12),
}
# The caller is waiting for the PaymentIntent: give up soon and release the places.
STRIPE_SETUP_STEP: StepOptions = {
    "start_to_close_timeout": timedelta(seconds=10),
    "retry_policy": RetryPolicy(maximum_attempts=3),
}

# Rendering can wait for the database a while (10 minutes), then the booking goes on without
# the document: any accepted input lays out, so what is retried is the database or a bug.
DOCUMENT_STEP: StepOptions = {
    "start_to_close_timeout": timedelta(seconds=30),
    "schedule_to_close_timeout": timedelta(minutes=10),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=20),
}
# Emails retry through SendGrid's 429s and 5xxs, then give up: a failed email never undoes a
# booking.
EMAIL_STEP: StepOptions = {
    "start_to_close_timeout": timedelta(seconds=30),
    "schedule_to_close_timeout": timedelta(minutes=10),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=10),
}

UNBOUNDED_REASONS: dict[str, str] = {
    "DATABASE_STEP": (
        "PostgreSQL is this engine's own store: while it is down nothing can be decided, and "
        "giving up would leave a booking between two states. Every write is idempotent, and "
        "what PostgreSQL refuses for good (SQLSTATE classes 22 and 23) and every business rule "
        "fail at once, non-retryable (core.db.transaction, core.errors): what is retried is "
        "the database being unreachable, until it is back."
    ),
}

# How long a rejected booking waits for its caller's `hold` update before failing.
HOLD_ANSWER_WAIT = timedelta(seconds=10)

# A move to a dearer session asks for the difference on a PaymentIntent of its own
# (`booking_move`); before it, the move was refused once the target's places were held, and
# the histories of those refusals hold that (the hold, then its release).
MOVE_PAYMENTS = "move-payments-2026-12-06"
# A move of some of a booking's places splits them off into a booking of their own
# (`booking_move`): its hold, refund, settle and child workflow are new commands.
PARTIAL_MOVES = "partial-moves-2026-12-06"
# The booking's attendance recorded at its session's end (workflows/attendance.py).
ATTENDANCE_PATCH = "attendance-2026-12-06"
# The safety net nudges stalled waiting lists after its other repairs (issue 21).
SAFETY_NET_WAITING_LISTS = "safety-net-waiting-lists-2026-12-06"

# The Stripe refunds recorder reads a booking's money as its claims on intents other bookings
# may claim too (a partial move's split): the refunds that are its, and what it was paid.
SHARED_INTENTS = "shared-intents-2026-12-06"

# A booking moved to another session leaves its session's state behind: the last change of its
# times it applied (the moved-to session's are numbered from 1 too) and that change's
# accept-or-refund window (`BookingState.moved_to`).
MOVED_SESSION_STATE = "moved-session-state-2026-12-06"

# Every live patch id (`<name>-YYYY-MM-DD`, dated the day its release ships) with the day it
# became `workflow.deprecate_patch` (None while it is `workflow.patched`). Each patch id in the
# workflow modules is listed here (tests/ops/test_patches_cli.py checks it); `booking-ops
# workflows patches` counts the workflows that still predate each. Empty at the release baseline.
LIVE_PATCHES: dict[str, date | None] = {
    ATTENDANCE_PATCH: None,
    SAFETY_NET_WAITING_LISTS: None,
    MOVE_PAYMENTS: None,
    SHARED_INTENTS: None,
    PARTIAL_MOVES: None,
    MOVED_SESSION_STATE: None,
}
