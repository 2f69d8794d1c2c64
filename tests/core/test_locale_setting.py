"""BOOKING_LOCALE: a CLDR locale that babel knows, or the process does not start."""

import pytest
from pydantic import ValidationError

from core.settings import Settings


@pytest.mark.parametrize("locale", ["en_GB", "en_US", "de_DE", "ja_JP"])
def test_known_locales_are_taken(locale: str) -> None:
    assert Settings(locale=locale).locale == locale


@pytest.mark.parametrize("locale", ["xx_YY", "english", "", "en-GB-x-nonsense!"])
def test_an_unknown_locale_is_refused(locale: str) -> None:
    with pytest.raises(ValidationError, match="unknown locale"):
        Settings(locale=locale)
