"""Data of attendance and certificates between the workflows and their activities."""

from dataclasses import dataclass, field

CERTIFICATE_WORKFLOW = "CertificateWorkflow"


@dataclass
class CertificateRequest:
    """Issue (or find) the certificate of the booking's `attendee_index`-th place and email it:
    `reissue` 0 is its first email, n its n-th reissue (each emailed once, the same number)."""

    booking_id: str
    attendee_index: int
    reissue: int = 0


def certificate_workflow_id(request: CertificateRequest) -> str:
    """One workflow per certificate and per reissue at a time: whoever asks (the booking's end,
    a correction, a retry) joins the one running."""
    base = f"certificate-{request.booking_id}-{request.attendee_index}"
    return f"{base}-reissue-{request.reissue}" if request.reissue else base


@dataclass
class AttendanceRecorded:
    """What the session's end recorded for one booking: its places attended and not."""

    attended: list[int] = field(default_factory=list)
    no_show: list[int] = field(default_factory=list)
    certificates: list[int] = field(default_factory=list)  # places whose certificate was asked
