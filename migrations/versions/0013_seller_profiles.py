"""organisations as sellers: profiles, numbering per organisation, Stripe Connect

Each organisation gets a seller profile (legal name, address, country, VAT number and default
rate, currency, locale, time zone, email sender name and reply-to, logo, footer, its own
prefixes for references and document numbers), an optional connected Stripe account with a
platform fee, and counters of its own. Sessions may override the VAT rate; bookings remember
the Stripe account their payment lives in; documents keep the seller as it was when issued.

The default organisation's profile is filled from today's settings (BOOKING_SELLER_*,
BOOKING_VAT_RATE_BASIS_POINTS, BOOKING_LOCALE, BOOKING_*_PREFIX), so its references and numbers
continue their sequences. Other organisations get their own name, no address, no VAT line (not
registered until they say otherwise) and prefixes made from their initials; their counters
start at 1 (their earlier bookings keep the numbers they were issued in the shared sequence).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 07:00:00.000000
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from core.settings import get_settings

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# store.organisations.DEFAULT_ORGANISATION_ID, written out: a migration never changes with the code.
DEFAULT_ORGANISATION_ID = "00000000-0000-4000-8000-000000000001"


def upgrade() -> None:
    settings = get_settings()
    _add_profile_columns()
    organisations = sa.table(
        "organisations",
        sa.column("id", sa.UUID()),
        sa.column("name", sa.Text()),
        sa.column("legal_name", sa.Text()),
        sa.column("address_lines", JSONB()),
        sa.column("country", sa.String()),
        sa.column("tax_id", sa.Text()),
        sa.column("vat_rate_basis_points", sa.Integer()),
        sa.column("default_currency", sa.String()),
        sa.column("locale", sa.String()),
        sa.column("time_zone", sa.String()),
        sa.column("email_sender_name", sa.Text()),
        sa.column("reference_prefix", sa.String()),
        sa.column("receipt_prefix", sa.String()),
        sa.column("credit_note_prefix", sa.String()),
    )
    connection = op.get_bind()
    taken = {settings.reference_prefix, settings.receipt_prefix, settings.credit_note_prefix}
    for row in connection.execute(sa.select(organisations.c.id, organisations.c.name)).all():
        if str(row.id) == DEFAULT_ORGANISATION_ID:
            values = {
                "legal_name": settings.seller_name,
                "address_lines": settings.seller_address,
                "country": settings.seller_country,
                "tax_id": settings.seller_vat_number,
                "vat_rate_basis_points": (
                    settings.vat_rate_basis_points if settings.seller_vat_number else None
                ),
                "email_sender_name": settings.seller_name,
                "reference_prefix": settings.reference_prefix,
                "receipt_prefix": settings.receipt_prefix,
                "credit_note_prefix": settings.credit_note_prefix,
            }
        else:
            prefix = _free_prefix(row.name, taken)
            taken |= {prefix, f"{prefix}-R", f"{prefix}-CN"}
            values = {
                "legal_name": row.name,
                "address_lines": [],
                "country": None,
                "tax_id": None,
                "vat_rate_basis_points": None,
                "email_sender_name": row.name,
                "reference_prefix": prefix,
                "receipt_prefix": f"{prefix}-R",
                "credit_note_prefix": f"{prefix}-CN",
            }
        values |= {
            "default_currency": settings.default_currency,
            "locale": settings.locale,
            "time_zone": settings.default_time_zone,
        }
        connection.execute(
            organisations.update().where(organisations.c.id == row.id).values(**values)
        )
    for column in ("legal_name", "email_sender_name", "reference_prefix", "receipt_prefix"):
        op.alter_column("organisations", column, nullable=False)
    op.alter_column("organisations", "credit_note_prefix", nullable=False)
    for column in ("reference_prefix", "receipt_prefix", "credit_note_prefix"):
        op.create_unique_constraint(f"organisations_{column}_key", "organisations", [column])
    _add_session_booking_and_document_columns()
    _count_per_organisation()


def _free_prefix(name: str, taken: set[str]) -> str:
    """The initials of `name` (up to four letters, 'ORG' without any), numbered until free."""
    initials = "".join(word[0] for word in re.findall(r"[A-Za-z]+", name))[:4].upper() or "ORG"
    prefix, n = initials, 1
    while {prefix, f"{prefix}-R", f"{prefix}-CN"} & taken:
        n += 1
        prefix = f"{initials}{n}"
    return prefix


def _add_profile_columns() -> None:
    columns = [
        sa.Column("legal_name", sa.Text(), nullable=True),
        sa.Column("address_lines", JSONB(), server_default="[]", nullable=False),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("tax_id", sa.Text(), nullable=True),
        sa.Column("vat_rate_basis_points", sa.Integer(), nullable=True),
        sa.Column("default_currency", sa.String(3), server_default="GBP", nullable=False),
        sa.Column("locale", sa.String(16), server_default="en_GB", nullable=False),
        sa.Column("time_zone", sa.String(64), server_default="UTC", nullable=False),
        sa.Column("email_sender_name", sa.Text(), nullable=True),
        sa.Column("reply_to", sa.Text(), nullable=True),
        sa.Column("logo", sa.LargeBinary(), nullable=True),
        sa.Column("logo_content_type", sa.String(32), nullable=True),
        sa.Column("footer", sa.Text(), nullable=True),
        sa.Column("reference_prefix", sa.String(16), nullable=True),
        sa.Column("receipt_prefix", sa.String(16), nullable=True),
        sa.Column("credit_note_prefix", sa.String(16), nullable=True),
        sa.Column("stripe_account_id", sa.String(255), nullable=True, unique=True),
        sa.Column("platform_fee_basis_points", sa.Integer(), server_default="0", nullable=False),
        sa.Column("platform_fee_fixed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("profile_updated_at", sa.DateTime(timezone=True), nullable=True),
    ]
    for column in columns:
        op.add_column("organisations", column)
    checks = {
        "vat_rate_bounded": "vat_rate_basis_points BETWEEN 0 AND 10000",
        "default_currency_iso": "default_currency ~ '^[A-Z]{3}$'",
        "country_iso": "country ~ '^[A-Z]{2}$'",
        "platform_fee_rate_bounded": "platform_fee_basis_points BETWEEN 0 AND 10000",
        "platform_fee_fixed_not_negative": "platform_fee_fixed >= 0",
        "logo_has_type": "(logo IS NULL) = (logo_content_type IS NULL)",
    }
    for name, condition in checks.items():
        op.create_check_constraint(name, "organisations", condition)


def _add_session_booking_and_document_columns() -> None:
    op.add_column(
        "sessions",
        sa.Column("vat_treatment", sa.String(16), server_default="organisation", nullable=False),
    )
    op.add_column("sessions", sa.Column("vat_rate_basis_points", sa.Integer(), nullable=True))
    op.create_check_constraint(
        "vat_treatment_known", "sessions", "vat_treatment IN ('organisation', 'rate', 'none')"
    )
    op.create_check_constraint(
        "vat_rate_only_with_rate",
        "sessions",
        "(vat_treatment = 'rate') = (vat_rate_basis_points IS NOT NULL)"
        " AND coalesce(vat_rate_basis_points, 0) BETWEEN 0 AND 10000",
    )
    # A figure filled in, no change of the booking: the rows keep their updated_at (0008).
    op.add_column("bookings", sa.Column("stripe_account_id", sa.String(255), nullable=True))
    op.add_column("bookings", sa.Column("application_fee_amount", sa.Integer(), nullable=True))
    op.add_column("receipts", sa.Column("seller", JSONB(), nullable=True))


def _count_per_organisation() -> None:
    op.add_column(
        "reference_counters",
        sa.Column(
            "organisation_id",
            sa.UUID(),
            server_default=sa.text(f"'{DEFAULT_ORGANISATION_ID}'::uuid"),
            nullable=False,
        ),
    )
    op.alter_column("reference_counters", "organisation_id", server_default=None)
    op.drop_constraint("reference_counters_pkey", "reference_counters", type_="primary")
    op.create_primary_key(
        "reference_counters_pkey", "reference_counters", ["organisation_id", "name", "year"]
    )
    op.create_foreign_key(
        "reference_counters_organisation_id_fkey",
        "reference_counters",
        "organisations",
        ["organisation_id"],
        ["id"],
    )


def downgrade() -> None:
    op.drop_constraint(
        "reference_counters_organisation_id_fkey", "reference_counters", type_="foreignkey"
    )
    op.drop_constraint("reference_counters_pkey", "reference_counters", type_="primary")
    op.execute(
        f"DELETE FROM reference_counters WHERE organisation_id <> '{DEFAULT_ORGANISATION_ID}'::uuid"
    )
    op.create_primary_key("reference_counters_pkey", "reference_counters", ["name", "year"])
    op.drop_column("reference_counters", "organisation_id")
    op.drop_column("receipts", "seller")
    op.drop_column("bookings", "application_fee_amount")
    op.drop_column("bookings", "stripe_account_id")
    op.drop_constraint("vat_rate_only_with_rate", "sessions", type_="check")
    op.drop_constraint("vat_treatment_known", "sessions", type_="check")
    op.drop_column("sessions", "vat_rate_basis_points")
    op.drop_column("sessions", "vat_treatment")
    for column in [
        "legal_name",
        "address_lines",
        "country",
        "tax_id",
        "vat_rate_basis_points",
        "default_currency",
        "locale",
        "time_zone",
        "email_sender_name",
        "reply_to",
        "logo",
        "logo_content_type",
        "footer",
        "reference_prefix",
        "receipt_prefix",
        "credit_note_prefix",
        "stripe_account_id",
        "platform_fee_basis_points",
        "platform_fee_fixed",
        "profile_updated_at",
    ]:
        op.drop_column("organisations", column)
