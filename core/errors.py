"""Business errors: raised by activities and the API alike, never retried, one HTTP status each."""

import uuid
from typing import Any, ClassVar

from temporalio.exceptions import ApplicationError


class BookingError(ApplicationError):
    """A business rule said no. The class name is the Temporal failure type."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail, extra, type=type(self).__name__, non_retryable=True)
        self.detail = detail
        self.extra = extra


class InvalidRequest(BookingError):
    status, slug, title = 422, "invalid-request", "The request is not valid"


class SessionNotFound(BookingError):
    status, slug, title = 404, "session-not-found", "No such session"


class BookingNotFound(BookingError):
    status, slug, title = 404, "booking-not-found", "No such booking"


class DocumentNotFound(BookingError):
    status, slug, title = 404, "document-not-found", "No such document for this booking"


class SessionNotBookable(BookingError):
    status, slug, title = 409, "session-not-bookable", "The session cannot be booked"


class CapacityBelowTaken(BookingError):
    """A session's capacity lowered below its places sold, held and offered (the figures)."""

    status, slug, title = 409, "capacity-below-taken", "Fewer places than are already taken"


class SellerProfileIncomplete(BookingError):
    """Production sells only for an organisation whose receipts can name it in full."""

    status, slug, title = 409, "seller-profile-incomplete", "The seller's profile is incomplete"


class SoldOut(BookingError):
    status, slug, title = 409, "sold-out", "Not enough places left"

    @classmethod
    def with_left(cls, asked: int, left: int) -> "SoldOut":
        return cls(f"{asked} places asked for, {left} left", available=left)


class SeatsUnavailable(BookingError):
    status, slug, title = 409, "seats-unavailable", "Some of the requested seats are taken"

    @classmethod
    def taken(cls, labels: list[str]) -> "SeatsUnavailable":
        return cls(f"seats already taken: {', '.join(labels)}", seats=labels)


class PlacesAvailable(BookingError):
    status, slug, title = 409, "places-available", "Enough places are free: book them instead"


class WaitingListClosed(BookingError):
    status, slug, title = 409, "waiting-list-closed", "The session's waiting list takes no one"


class WaitingEntryNotFound(BookingError):
    status, slug, title = 404, "waiting-entry-not-found", "No such waiting-list entry"


class NoOpenOffer(BookingError):
    status, slug, title = 409, "no-open-offer", "The entry holds no open offer for this token"


class IdempotencyKeyReused(BookingError):
    status, slug, title = (
        422,
        "idempotency-key-reused",
        "Idempotency-Key was used for another request",
    )

    @classmethod
    def unless_same(cls, first_fingerprint: str, fingerprint: str) -> None:
        """The one check that a replayed Idempotency-Key comes with the body it first came with."""
        if fingerprint != first_fingerprint:
            raise cls("Idempotency-Key was already used with another body")


class BookingNotCancellable(BookingError):
    status, slug, title = 409, "not-cancellable", "The booking cannot be cancelled in its state"

    @classmethod
    def in_status(cls, status: str) -> "BookingNotCancellable":
        return cls(f"a booking that is {status} cannot be cancelled")


class WebhookEndpointNotFound(BookingError):
    status, slug, title = 404, "webhook-endpoint-not-found", "No such webhook endpoint"


class WebhookDeliveryNotFound(BookingError):
    status, slug, title = 404, "webhook-delivery-not-found", "No such delivery for this endpoint"


class WebhookEndpointDisabled(BookingError):
    status, slug, title = 409, "webhook-endpoint-disabled", "The webhook endpoint is disabled"


class PrefixInUse(BookingError):
    status, slug, title = (
        409,
        "prefix-in-use",
        "A reference or document prefix is in use by another organisation",
    )


class BookingNotChangeable(BookingError):
    status, slug, title = (
        409,
        "not-changeable",
        "The booking cannot be refunded or changed in its state",
    )


class PaymentProviderRefused(BookingError):
    status, slug, title = (
        502,
        "payment-provider-refused",
        "The payment provider refused the request",
    )


class PaymentRequestInvalid(PaymentProviderRefused):
    slug, title = "payment-request-invalid", "The payment provider found the request invalid"


class PaymentObjectMissing(PaymentProviderRefused):
    slug, title = "payment-object-missing", "The payment provider has no such object"


class PaymentCardDeclined(PaymentProviderRefused):
    slug, title = "payment-card-declined", "The payment provider declined the card"


class PaymentProviderAuthenticationFailed(PaymentProviderRefused):
    slug, title = (
        "payment-provider-authentication-failed",
        "The payment provider did not accept our API key",
    )


class PaymentProviderForbidden(PaymentProviderRefused):
    slug, title = "payment-provider-forbidden", "Our API key may not do this at the provider"


class PaymentIdempotencyKeyReused(PaymentProviderRefused):
    slug, title = (
        "payment-idempotency-key-reused",
        "The payment provider holds another request under this idempotency key",
    )


class PaymentSignatureInvalid(PaymentProviderRefused):
    slug, title = "payment-signature-invalid", "The payment provider's signature does not verify"


class RefundExceedsRemaining(BookingError):
    status, slug, title = (
        409,
        "refund-exceeds-remaining",
        "The refund is more than what remains paid at the payment provider",
    )


class WorkflowEnded(BookingError):
    """The booking's workflow ended for a reason that is no business rule (terminated, failed,
    timed out, or it closed before an accepted update finished): nothing more can be done
    through the API until an operator repairs it."""

    status, slug, title = (
        409,
        "workflow-ended",
        "The booking's workflow has ended: an operator must repair the booking",
    )


class ServiceUnavailable(BookingError):
    status, slug, title = 503, "service-unavailable", "A service the booking needs is unavailable"


class PaymentProviderUnavailable(ServiceUnavailable):
    """The one business error that is retried: Stripe could not answer (the network, 429, 5xx).
    The step's retry policy bounds the retries; past the bound the caller sees a 503."""

    slug, title = "payment-provider-unavailable", "The payment provider is unavailable"

    def __init__(self, detail: str, **extra: Any) -> None:
        ApplicationError.__init__(self, detail, extra, type=type(self).__name__)
        self.detail = detail
        self.extra = extra


def application_failure(err: BaseException) -> ApplicationError | None:
    """The ApplicationError a failure carries: `err` itself (a local activity's), or the first
    among its causes (an activity's, a workflow's or an update's failure wraps it); None when
    none does (a timeout, a cancellation)."""
    cause: BaseException | None = err
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = cause.__cause__
    return cause


def business_failure(err: BaseException) -> ApplicationError | None:
    """The business rule (or the refusal) that said no: a non-retryable ApplicationError; None
    for trouble worth retrying."""
    cause = application_failure(err)
    return cause if cause is not None and cause.non_retryable else None


def as_booking_error(err: BaseException) -> BookingError | None:
    """The business error a workflow, an update or an activity failed with, as the class it was
    raised as (its details kept); None when it failed for another reason."""
    cause = application_failure(err)
    if cause is None or cause.type not in ERRORS_BY_TYPE:
        return None
    extra = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
    return ERRORS_BY_TYPE[cause.type](cause.message, **extra)


def parse_id(value: str, missing: type[BookingError], noun: str) -> uuid.UUID:
    """`value` as the UUID it names; anything else names nothing: `missing` (a 404)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise missing(f"{noun} {value[:64]} does not exist") from None


def _all_subclasses(cls: type[BookingError]) -> list[type[BookingError]]:
    found: list[type[BookingError]] = []
    for direct in cls.__subclasses__():
        found += [direct, *_all_subclasses(direct)]
    return found


_ALL_ERRORS: list[type[BookingError]] = [BookingError, *_all_subclasses(BookingError)]
ERRORS_BY_TYPE: dict[str, type[BookingError]] = {cls.__name__: cls for cls in _ALL_ERRORS}


class CertificateNotFound(BookingError):
    """Unknown, forged or altered verification codes alike: nothing about why is revealed."""

    status, slug, title = 404, "certificate-not-found", "No such certificate"


class AttendanceNotCorrectable(BookingError):
    """Attendance is recorded at the session's end and corrected within a window after it."""

    status, slug, title = 409, "attendance-not-correctable", "The attendance cannot be corrected"


class TicketRefused(BookingError):
    """A scanned code that admits nobody to this session; `reason` says why (TicketRefusal)."""

    status, slug, title = 422, "ticket-refused", "The ticket does not admit anyone here"
