"""Which VAT rate a session's price includes: the session's own treatment over the seller's."""

from core.enums import VatTreatment


def applicable_vat_rate(
    organisation_rate: int | None, treatment: VatTreatment, session_rate: int | None
) -> int | None:
    """The rate in basis points, or None when no VAT is charged (no VAT line is printed).

    `organisation_rate` is None for a seller not registered for VAT: its sessions charge none
    unless one names a rate of its own.
    """
    match treatment:
        case VatTreatment.ORGANISATION:
            return organisation_rate
        case VatTreatment.RATE:
            if session_rate is None:
                raise ValueError("a session's own VAT treatment needs its rate")
            return session_rate
        case VatTreatment.NONE:
            return None
