"""The caller's organisation (admin): its seller profile, read and changed, and its logo."""

from fastapi import APIRouter, HTTPException, Response

from api.deps import AdminCaller, DbDep
from models.tables import Organisation
from schemas.organisations import (
    OrganisationOut,
    OrganisationPatch,
    change_profile,
    organisation_out,
)
from store.organisations import find_organisation

router = APIRouter(prefix="/v1/organisation", tags=["organisation"])


async def _own(db: DbDep, caller: AdminCaller) -> Organisation:
    return await find_organisation(db, str(caller.organisation_id), with_logo=True)


@router.get("", response_model=OrganisationOut)
async def read(caller: AdminCaller, db: DbDep) -> OrganisationOut:
    """The seller profile its receipts, credit notes and emails print."""
    return organisation_out(await _own(db, caller))


@router.patch(
    "",
    response_model=OrganisationOut,
    responses={409: {"description": "A prefix is used by another organisation"}},
)
async def change(body: OrganisationPatch, caller: AdminCaller, db: DbDep) -> OrganisationOut:
    """Change the fields given (the others stay); the answer is the whole profile. A refused
    change (422, 409) changes nothing. Documents already issued keep the seller they printed;
    a new prefix continues the organisation's numbers."""
    organisation = await change_profile(db, await _own(db, caller), body)
    await db.commit()
    return organisation_out(organisation)


@router.get(
    "/logo",
    response_class=Response,
    responses={
        200: {
            "description": "The logo's bytes",
            "content": {"image/png": {}, "image/svg+xml": {}},
        },
        404: {"description": "The organisation has no logo"},
    },
)
async def logo(caller: AdminCaller, db: DbDep) -> Response:
    organisation = await _own(db, caller)
    if organisation.logo is None or organisation.logo_content_type is None:
        raise HTTPException(404, "the organisation has no logo")
    return Response(organisation.logo, media_type=organisation.logo_content_type)
