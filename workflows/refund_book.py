"""The booking's refunds, kept by its workflow in one vocabulary:

- *read back*: record the refunds Stripe holds that the booking does not know yet (made in
  Stripe's dashboard, say); done before every refund, so none is computed from older figures;
- *ask*: ask Stripe for the booking's next refund, by its *sequence* number (1, 2, ... in the
  booking's order, part of Stripe's idempotency key): a number is used up even when Stripe
  refuses, so its key is never sent with another amount;
- *note*: record a refund Stripe made (the database, the view) and issue its credit note;
- *refund part*: ask, then note; *refund the rest*: read back, then refund in full what
  remains at Stripe;
- *remaining*: what was paid less every refund noted;
- *claims*: what the booking claims of each PaymentIntent it was paid through: its own (what
  was paid less the others), then each dearer move's difference, or, for a booking split off
  by a partial move (`BookingMove`), the parts of the first booking's claims handed over to it
  (`claims`, oldest first). Reading back reads each intent, and a refund is taken from the
  newest claim first, each piece its own sequence number (refunds of money that arrived after
  the booking ended stay on the booking's own intent). An intent may pay for several bookings:
  a refund belongs to the booking its metadata names; one naming none (made in Stripe's
  dashboard) to the intent's opener, never to a booking split off;
- *catch up*: read back, then follow: REFUNDED (the places released) once nothing remains
  paid, else each refund's email to the customer."""

from dataclasses import dataclass, replace

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from core.booking_rules import remaining
    from core.enums import BookingStatus, DocumentKind, EmailKind, RefundSource
    from core.errors import PaymentProviderUnavailable
    from messages.booking import Claim, Refund
    from messages.payments import RefundInfo
    from workflows.booking_state import BookingState
    from workflows.steps import BookingSteps, outcome


@dataclass(frozen=True)
class Asked:
    """A refund Stripe made at the booking's ask, not yet noted: its sequence number, and the
    intent it was taken from (None: the booking's own)."""

    info: RefundInfo
    sequence: int
    intent: str | None = None


class RefundBook:
    """The refunds of the booking `state` holds, asked of Stripe through `steps`."""

    def __init__(self, steps: BookingSteps, state: BookingState) -> None:
        self._steps = steps
        self._state = state
        # The last sequence number taken: by a refund noted, or by a refund asked of Stripe,
        # even one it refused.
        self._last_sequence = 0
        # The claims on intents other than the booking's own, oldest first: (id, amount).
        self.claims: list[tuple[str, int]] = []

    @property
    def remaining(self) -> int:
        booking = self._state.booking
        return remaining(booking.amount_paid, booking.amount_refunded)

    @property
    def free(self) -> bool:
        """Nothing was paid through any intent: nothing to refund."""
        return self._state.booking.payment_intent_id is None and not self.claims

    async def read_back(self) -> list[Refund]:
        """Note the refunds Stripe holds that the booking does not know yet."""
        booking = self._state.booking
        if self.free:
            return []
        known = {refund.stripe_refund_id for refund in booking.refunds}
        known.update(booking.refund_ids)
        found = []
        for intent, _ in self._intents():
            listed = await self._steps.list_refunds(intent or self._state.payment_intent_id)
            found += [
                (info, intent)
                for info in listed
                if info.id not in known and info.counts and self._ours(info)
            ]
        return [
            await self.note(info, "refunded at Stripe", RefundSource.STRIPE, intent=intent)
            for info, intent in found
        ]

    async def catch_up(self) -> None:
        """Note the refunds made at Stripe the booking does not know yet, then follow them."""
        await self.follow(await self.read_back())

    async def read_at_stripe(self) -> None:
        """After a `charge.refunded`: note the refunds made at Stripe, and a booking that was
        confirmed follows them. Stripe not answering within the step's bound skips this
        (logged): the next event, or the next refund, reads them."""
        try:
            refunds = await self.read_back()
        except FailureError as err:
            workflow.logger.warning("refunds not read: %s", outcome(err).message)
            return
        if self._state.booking.reference:
            await self.follow(refunds)

    async def follow(self, refunds: list[Refund]) -> None:
        """REFUNDED (places released) once nothing remains paid, else tell the customer."""
        if not refunds:
            return
        if self.remaining <= 0:
            refunded = self._state.booking.amount_refunded
            await self._state.close(BookingStatus.REFUNDED, refunds[-1].reason, refunded)
            return
        for refund in refunds:
            await self._state.send_email(EmailKind.PARTLY_REFUNDED, refund.amount, refund.sequence)

    async def refund_rest(self, source: RefundSource) -> ApplicationError | None:
        """Refund all that remains at Stripe (read back first); None, or why not: Stripe's
        refusal, or PaymentProviderUnavailable when it did not answer within the step's bound.

        In full, as Stripe counts it, keyed by `source` alone: the safety net refunds late money
        with the same key, so the two can never both refund it."""
        try:
            await self.read_back()
            if self.remaining > 0:
                info = await self._steps.refund(self._state.payment_intent_id, source)
                await self.note(info, source.value, source)
        except FailureError as err:
            return outcome(err)
        return None

    async def refund_part(self, amount: int, reason: str, source: RefundSource) -> list[Refund]:
        """Refund `amount` through Stripe as the booking's next refund(s), then note them."""
        return await self.note_all(await self.ask(amount, source), reason, source)

    async def ask(self, amount: int, source: RefundSource) -> list[Asked]:
        """Ask Stripe for the booking's next refund, one per intent it is taken from (newest
        first); each sequence number is used up even when Stripe refuses (ActivityError)."""
        asked = []
        for intent, part in self._split(amount):
            self._last_sequence += 1
            sequence = self._last_sequence
            paid_on = intent or self._state.payment_intent_id
            info = await self._steps.refund(paid_on, source, part, sequence)
            asked.append(Asked(info, sequence, intent))
        return asked

    async def give_back(self, intent: str, amount: int, source: RefundSource) -> RefundInfo:
        """Refund money paid on a dearer move's intent that the booking never counted (the move
        did not settle): by its own sequence number, not noted as the booking's refund."""
        self._last_sequence += 1
        return await self._steps.refund(intent, source, amount, self._last_sequence)

    async def note_all(self, asked: list[Asked], reason: str, source: RefundSource) -> list[Refund]:
        return [
            await self.note(one.info, reason, source, one.sequence, one.intent) for one in asked
        ]

    def hand_over(self, amount: int) -> list[Claim]:
        """The parts of the booking's claims that make `amount` handed over to a booking split
        off, newest first as refunds are taken (never more of a claim than its refunds left)."""
        if amount <= 0:
            return []
        return [
            Claim(intent or self._state.payment_intent_id, part)
            for intent, part in self._split(amount)
        ]

    def handed_over(self, parts: list[Claim]) -> None:
        """The claims once `parts` were handed over (the booking's own shrinks with what was
        paid, which the caller lowers)."""
        for part in parts:
            self.claims = [
                (intent, paid - part.amount if intent == part.payment_intent_id else paid)
                for intent, paid in self.claims
            ]

    def _ours(self, refund: RefundInfo) -> bool:
        """A refund on a shared intent is the booking's its metadata names; one naming none is
        the intent opener's (a booking split off opened none)."""
        if refund.booking_id is None:
            return self._state.booking.split_from is None
        return refund.booking_id == self._state.booking.id

    def _intents(self) -> list[tuple[str | None, int]]:
        """Each intent (None: the booking's own, if it has one) with what it claims of it,
        oldest first."""
        if self._state.booking.payment_intent_id is None:
            return list(self.claims)
        own = self._state.booking.amount_paid - sum(amount for _, amount in self.claims)
        return [(None, own), *self.claims]

    def _split(self, amount: int) -> list[tuple[str | None, int]]:
        """`amount` taken from the newest intent first, as far as what remains on each goes;
        on the booking's own alone when it has no other (Stripe refuses what is beyond)."""
        if not self.claims:
            return [(None, amount)]
        refunds = self._state.booking.refunds
        parts = []
        for intent, paid in reversed(self._intents()):
            left = paid - sum(r.amount for r in refunds if r.payment_intent_id == intent)
            part = min(left, amount)
            if part > 0:
                parts.append((intent, part))
                amount -= part
        return parts

    async def note(
        self,
        info: RefundInfo,
        reason: str,
        source: RefundSource,
        sequence: int | None = None,
        intent: str | None = None,
    ) -> Refund:
        """Record a refund made at Stripe (the database, the view) and issue its credit note;
        `sequence` when it was taken already; `intent` when it is not the booking's own.
        `refund_ids` lists the booking's own refunds."""
        booking = self._state.booking
        ours = source != RefundSource.STRIPE
        if sequence is None:
            self._last_sequence += 1
            sequence = self._last_sequence
        refund = Refund(sequence, info.amount, reason, info.id, workflow.now(), source, intent)
        await self._steps.record_refund(booking.currency, refund)
        refund_ids = [*booking.refund_ids, info.id] if ours else booking.refund_ids
        self._state.view = replace(
            booking, refunds=[*booking.refunds, refund], refund_ids=refund_ids
        )
        if self._state.booking.reference:
            await self._state.issue_document(DocumentKind.CREDIT_NOTE, None, refund)
        return refund


def unrefunded_reason(refusal: ApplicationError) -> str:
    """A status reason for money paid for a booking that will not be confirmed and could not
    be refunded now: the safety net refunds such a payment at its next run."""
    workflow.logger.warning("refund not made: %s", refusal.message)
    if refusal.type == PaymentProviderUnavailable.__name__:
        return "Stripe did not answer: refund left to the safety net"
    return f"the refund was refused: {refusal.message}"
