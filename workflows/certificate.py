"""One certificate of attendance (or one reissue of it): issued, then emailed, each once
whatever the retries and the runs: the certificate's row is written once per place, the email
once per notification key (the ledger). Its workflow id (`certificate_workflow_id`) keeps one
run at a time per certificate; a later run finds both done."""

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.certificates import CertificateActivities
    from activities.notifications import NotificationActivities
    from core.enums import EmailKind
    from messages.booking import EmailRequest
    from messages.certificates import CERTIFICATE_WORKFLOW, CertificateRequest
    from workflows.options import DOCUMENT_STEP, EMAIL_STEP


@workflow.defn(name=CERTIFICATE_WORKFLOW)
class CertificateWorkflow:
    @workflow.run
    async def run(self, request: CertificateRequest) -> str | None:
        """The certificate's number; None when its place is no longer recorded attended."""
        number = await workflow.execute_activity_method(
            CertificateActivities.issue,
            request,
            summary=f"issue certificate of place {request.attendee_index + 1}",
            **DOCUMENT_STEP,
        )
        if number is None:
            return None
        email = EmailRequest(
            request.booking_id,
            EmailKind.CERTIFICATE,
            attendee_index=request.attendee_index,
            reissue=request.reissue,
        )
        try:
            await workflow.execute_activity_method(
                NotificationActivities.send, email, summary=f"email {number}", **EMAIL_STEP
            )
        except ActivityError as err:  # the ledger marks it failed: the safety net sends it again
            workflow.logger.error("certificate %s not emailed: %s", number, err.cause)
        return number
