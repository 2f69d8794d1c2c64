"""How the booking workflow calls its activities (timeouts, retries) and its patch names.

Editing this file changes what running workflows do next, not what they did: a timeout or a
retry policy may change freely (neither is replayed). What does need care is in the workflow:
any edit that adds, removes, reorders or renames a command (an activity, timer, child or
search-attribute upsert) must sit behind `workflow.patched(NEW_PATCH)` with a new constant
here, and a history recorded with the new code must be committed under
tests/workflows/histories/ (`RECORD_HISTORIES=1 make test`).
"""

from datetime import timedelta
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

# The safety net's search reads every booking holding places and every recent payment. One
# search never outlasts the schedule's interval (5 minutes by default), so a run always ends
# and the next one starts (the schedule skips runs that would overlap).
SEARCH_STEP: StepOptions = {
    "start_to_close_timeout": timedelta(minutes=4),
    "schedule_to_close_timeout": timedelta(minutes=5),
    "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=2),
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

# Histories recorded before receipts and emails existed replay without them.
NOTIFICATIONS_PATCH = "receipts-and-emails"
# A failed setup deletes its booking row (it only released its places before), so the same
# Idempotency-Key starts clean.
CLEAN_SETUP_PATCH = "clean-setup"
# Waits on Stripe while a booking is pending are bounded: a hold ends on time even when
# Stripe is down, and a payment Stripe confirms later is refunded as late money.
BOUNDED_STRIPE_PATCH = "bounded-stripe-waits"
# Creating and reading PaymentIntents became local activities (one trip through the server's
# task queues less per call); older histories ran them as regular activities.
LOCAL_STRIPE_PATCH = "local-stripe-calls"
# A booking with nothing to pay (a free session, or a discount of 100 %) is sold at once: no
# PaymentIntent, a receipt for 0. Older runs created an intent for every booking.
FREE_BOOKING_PATCH = "free-bookings"
# The safety net also wakes webhook deliveries left pending without a running delivery
# workflow (its runs before webhooks out did not).
WEBHOOK_SWEEP_PATCH = "webhook-sweep"
# Refunds follow the session's refund policy and may be partial (an admin's amount, some places
# cancelled, a refund made at Stripe read back); each is recorded with its own credit note. The
# `refund` and `cancel_places` updates need no check of their own: no older history holds one.
PARTIAL_REFUNDS_PATCH = "partial-refunds"
# The PaymentIntent is created and recorded in one local activity (`open_payment`), one step
# less per booking start; older runs created it, then recorded it in a step of its own.
ONE_STEP_PAYMENT_PATCH = "one-step-payment"
