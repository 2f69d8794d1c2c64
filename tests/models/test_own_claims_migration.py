"""Migration 0026: a confirmed booking's claim on its own intent is what it was paid there,
not its total (which shrinks when places are given back), and on the intent its setup opened
last."""

from devstack.postgres import Cluster
from tests.helpers.database import alembic, scratch_database

_SESSION = """
INSERT INTO sessions (id, organisation_id, kind, title, location, starts_at, ends_at,
    capacity, price_amount, currency, hold_seconds, discount_min_quantity,
    discount_basis_points, status)
SELECT '00000000-0000-0000-0000-00000000005e', id, 'course', 'Course', 'Room 1',
    now() + interval '9 days', now() + interval '10 days', 10, 2500, 'EUR', 600, 0, 0,
    'scheduled'
FROM organisations LIMIT 1
"""


def _booking(number: int, total: int, paid: int | None, confirmed: bool) -> str:
    return f"""
INSERT INTO bookings (id, session_id, customer_name, customer_email,
    customer_email_normalised, attendees, quantity, seat_labels, amount_subtotal, discount,
    amount_total, currency, status, payment_intent_id, hold_expires_at, request_fingerprint,
    amount_paid, confirmed_at)
VALUES ('00000000-0000-0000-0000-00000000000{number}', '00000000-0000-0000-0000-00000000005e',
    'Ada', 'ada@example.com', 'ada@example.com', '[]', 1, '["1"]', {total}, 0, {total}, 'EUR',
    '{"CONFIRMED" if confirmed else "PENDING_PAYMENT"}', 'pi_{number}', now(), 'f',
    {paid if paid is not None else "NULL"}, {"now()" if confirmed else "NULL"});
INSERT INTO booking_payments (payment_intent_id, booking_id, amount, currency)
VALUES ('pi_{number}', '00000000-0000-0000-0000-00000000000{number}', {total}, 'EUR');
"""


def test_migration_0026_sets_own_claims_from_what_was_paid(postgres: Cluster) -> None:
    claims = (
        "SELECT string_agg(payment_intent_id || '=' || amount, ' ' ORDER BY payment_intent_id)"
        " FROM booking_payments"
    )
    with scratch_database(postgres) as (url, sql):
        alembic(url, "upgrade", "0025")
        sql(_SESSION)
        sql(_booking(1, total=2500, paid=5000, confirmed=True))  # gave a place back
        sql(_booking(2, total=2500, paid=None, confirmed=False))  # not paid yet
        # Booking 1 later moved to a dearer session: 700 paid on that move's own intent.
        sql(
            "INSERT INTO booking_payments (payment_intent_id, booking_id, move_number, amount,"
            " currency, paid_at) VALUES ('pi_move', '00000000-0000-0000-0000-000000000001', 1,"
            " 700, 'EUR', now())"
        )
        sql("UPDATE bookings SET amount_paid = 5700 WHERE payment_intent_id = 'pi_1'")
        # Booking 3's setup was retried: its claim stayed on the first intent, never paid.
        sql(_booking(3, total=2500, paid=2500, confirmed=True))
        sql("UPDATE bookings SET payment_intent_id = 'pi_3b' WHERE payment_intent_id = 'pi_3'")

        alembic(url, "upgrade", "0026")
        assert sql(claims) == "pi_1=5000 pi_2=2500 pi_3b=2500 pi_move=700"
        alembic(url, "downgrade", "0025")
        alembic(url, "upgrade", "head")
        assert sql(claims) == "pi_1=5000 pi_2=2500 pi_3b=2500 pi_move=700"
