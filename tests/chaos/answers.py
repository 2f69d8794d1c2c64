"""Which answers a chaos customer may get, and which 503s the mayhem explains.

Every answer outside a step's expected statuses is a violation, a 500 first of all. A 503 is
retried by the customer (the same Idempotency-Key), and judged once the run is over: it is
excused only when it is a documented answer (problem+json `service-unavailable`) and the harness
was disturbing something that route needs while the request was open:

- any route: from the start of a Temporal or PostgreSQL restart until RESTART_GRACE seconds
  after the server is back (clients reconnect, pools refill);
- the routes that wait for a booking's workflow to accept or answer (WORKFLOW_ROUTES): from a
  worker SIGKILL until KILL_GRACE seconds after the new worker is ready (the killed worker's
  workflow task times out first, 10 s, then the API's accept wait of 10 s may have run out);
- `POST /v1/bookings` at any time: the booking's setup needs Stripe, which the proxy fails at
  random for the whole run, and a setup Stripe did not answer is refused with a documented 503
  ("retry with the same Idempotency-Key").

A timeout or a reset is retried. A customer who got no final answer within their patience gives
up (counted in the report): each 503 on the way was judged, and what the API did with the request
is checked at rest like any other booking.
"""

from dataclasses import dataclass

PROBLEM_JSON = "application/problem+json"
RESTART_GRACE = 15.0
KILL_GRACE = 20.0
RESTARTS = ("Temporal restart", "PostgreSQL restart")
KILL = "worker SIGKILL"
BOOK = "POST /v1/bookings"
WORKFLOW_ROUTES = frozenset(
    {
        BOOK,
        "POST /v1/bookings/{id}/cancel",
        "POST /v1/bookings/{id}/refunds",
        "POST /v1/bookings/{id}/cancel-places",
        "POST /v1/sessions/{id}/cancel",
    }
)


@dataclass(frozen=True)
class Window:
    """One disturbance by the harness, monotonic seconds: `start` until `end` (back again)."""

    cause: str
    start: float
    end: float


@dataclass(frozen=True)
class Unavailable:
    """One 503 a customer got: when the request was sent and answered (monotonic seconds)."""

    route: str
    sent: float
    answered: float
    content_type: str
    problem_type: str

    @property
    def documented(self) -> bool:
        return self.content_type.startswith(PROBLEM_JSON) and self.problem_type.endswith(
            "service-unavailable"
        )


def excuse(answer: Unavailable, windows: list[Window]) -> str | None:
    """What explains this 503 (a cause named in the module's rules), or None: a violation."""
    if not answer.documented:
        return None
    for window in windows:
        if window.cause in RESTARTS:
            grace = RESTART_GRACE
        elif window.cause == KILL and answer.route in WORKFLOW_ROUTES:
            grace = KILL_GRACE
        else:
            continue
        if answer.sent <= window.end + grace and answer.answered >= window.start:
            return window.cause
    return "setup needs Stripe" if answer.route == BOOK else None


def judge(answers: list[Unavailable], windows: list[Window], began: float) -> list[str]:
    """A violation for each 503 nothing excuses."""
    return [
        f"unexplained 503 on {a.route} (sent t+{a.sent - began:.1f}s, answered "
        f"t+{a.answered - began:.1f}s, {a.content_type or 'no content type'} "
        f"{a.problem_type or ''}): no restart or kill was under way"
        for a in answers
        if excuse(a, windows) is None
    ]


def causes(answers: list[Unavailable], windows: list[Window]) -> dict[str, int]:
    """How many 503s each cause explains, for the report."""
    counted: dict[str, int] = {}
    for answer in answers:
        cause = excuse(answer, windows) or "unexplained"
        counted[cause] = counted.get(cause, 0) + 1
    return counted
