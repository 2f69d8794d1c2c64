"""Whether a VAT number is well formed for the seller's country (python-stdnum's checks).

The EU's numbers and the UK's have a known shape and check digits; elsewhere any printable
number is taken, as we know no rule for it. Only the shape is checked, not that the number is
registered (that needs VIES or HMRC, online).
"""

from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError
from stdnum.gb import vat as gb_vat
from stdnum.util import clean

# Greece's VAT numbers start with EL, not its ISO code; Northern Ireland's XI is no country.
_EU_VAT_PREFIX = {cc.upper(): cc.upper() for cc in eu_vat.MEMBER_STATES - {"gr", "xi"}} | {
    "GR": "EL"
}


def check_vat_number(country: str, number: str) -> None:
    """Nothing when `number` is a well-formed VAT number of `country` (ISO 3166-1 alpha-2),
    written with or without its country prefix and spaces; ValueError saying so otherwise."""
    invalid = ValueError(f"not a valid VAT number for {country}")
    try:
        if country == "GB":
            gb_vat.validate(number)
        elif country in _EU_VAT_PREFIX:
            prefix = _EU_VAT_PREFIX[country]
            compact = clean(number, " -./,").upper()
            if not compact[:2].isalpha():
                compact = prefix + compact
            if not compact.startswith(prefix):
                raise invalid
            eu_vat.validate(compact)
    except ValidationError:
        raise invalid from None
