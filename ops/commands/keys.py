"""`booking-ops keys`: organisations' API keys, straight in PostgreSQL. A key's secret is printed
once, when it is made, and never stored."""

import uuid
from typing import Annotated, Any

import typer

from core.enums import Role
from models.tables import ApiKey, Organisation
from ops.commands.display import (
    AsJson,
    console,
    details,
    print_json,
    table,
    uuid_argument,
)
from ops.commands.organisations import organisation_or_exit
from ops.commands.runtime import FOUND_PROBLEMS, database, fail, run, settings_or_exit
from ops.readable import when
from store.api_keys import create_key, list_keys, revoke_key

keys = typer.Typer(
    help="Make, list and revoke organisations' API keys.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

OrganisationOption = Annotated[
    str, typer.Option("--organisation", "-o", help="The organisation's id or name.")
]


@keys.command()
def create(
    organisation: OrganisationOption,
    role: Annotated[
        Role,
        typer.Option(
            help="client: book; admin: also manage sessions; door: check in and list attendees."
        ),
    ],
    name: Annotated[str, typer.Option(help="What the key is for, e.g. 'box office'.")],
    rate_limit: Annotated[
        int | None,
        typer.Option(min=1, help="Requests per minute; default: BOOKING_RATE_LIMIT_PER_MINUTE."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Make a key and print its secret, the only time it is shown."""
    settings = settings_or_exit()

    async def work() -> tuple[ApiKey, Organisation, str]:
        async with database(settings) as db, db.begin() as s:
            owner = await organisation_or_exit(s, organisation)
            key, secret = await create_key(
                s, owner.id, role, name, settings.api_key_pepper, rate_limit
            )
            return key, owner, secret

    key, owner, secret = run(work())
    if as_json:
        print_json({**_key_json(key, owner.name), "secret": secret})
        return
    console().print(details(_key_fields(key, owner.name)))
    typer.echo(f"secret: {secret}")
    typer.echo("The secret is shown only now and is not stored: keep it safe.", err=True)


@keys.command("list")
def list_(
    organisation: Annotated[
        str | None, typer.Option("--organisation", "-o", help="Only this organisation's keys.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Every key (never a secret), oldest first."""
    settings = settings_or_exit()

    async def work() -> list[tuple[ApiKey, str]]:
        async with database(settings) as db, db() as s:
            owner = await organisation_or_exit(s, organisation) if organisation else None
            return list(await list_keys(s, owner.id if owner else None))

    found = run(work())
    if as_json:
        print_json([_key_json(key, owner) for key, owner in found])
        return
    columns = ("id", "organisation", "role", "name", "prefix", "created", "last used")
    rows = [
        (
            key.id,
            owner,
            key.role,
            key.name,
            key.prefix,
            when(key.created_at),
            when(key.last_used_at),
            f"revoked {when(key.revoked_at)}" if key.revoked_at else "",
            key.rate_limit_per_minute or "default",
        )
        for key, owner in found
    ]
    console().print(table(f"{len(found)} key(s)", (*columns, "revoked", "per minute"), rows))


@keys.command()
def revoke(
    key_id: Annotated[str, uuid_argument("key", "KEY_ID")],
) -> None:
    """Revoke a key: from now on the API answers it with 401."""
    settings = settings_or_exit()

    async def work() -> ApiKey | None:
        async with database(settings) as db, db.begin() as s:
            return await revoke_key(s, uuid.UUID(key_id))

    key = run(work())
    if key is None:
        fail(f"no key {key_id}", FOUND_PROBLEMS)
    typer.echo(f"revoked key {key.id} ({key.name}) at {when(key.revoked_at)} UTC")


def _key_fields(key: ApiKey, organisation: str) -> list[tuple[str, Any]]:
    return [
        ("id", key.id),
        ("organisation", f"{organisation} ({key.organisation_id})"),
        ("role", key.role),
        ("name", key.name),
        ("prefix", key.prefix),
        ("per minute", key.rate_limit_per_minute or "default"),
    ]


def _key_json(key: ApiKey, organisation: str) -> dict[str, Any]:
    return {
        "id": str(key.id),
        "organisation_id": str(key.organisation_id),
        "organisation": organisation,
        "role": key.role,
        "name": key.name,
        "prefix": key.prefix,
        "rate_limit_per_minute": key.rate_limit_per_minute,
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
    }
