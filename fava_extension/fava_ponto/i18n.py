"""The page's catalogs: Babel ``.mo`` files shipped in ``translations/``, chosen as Fava chooses.

Contract: :func:`catalog` gives the catalog of the locale Fava selected for
the current request (``flask_babel.get_locale()``, i.e. the ledger's
``custom "fava-option" "language"``, else the browser's preference); a
language without a catalog (English included) gets one that returns the
English text. Catalogs are the package's own domain ``fava_ponto``, never
Fava's. The ``.mo`` files are compiled from the ``.po`` files by the build
(``setup.py``), not committed.
"""

from __future__ import annotations

import functools
from pathlib import Path

from babel.support import NullTranslations, Translations
from flask import has_request_context
from flask_babel import get_locale

DOMAIN = "fava_ponto"
#: Where the catalogs are: ``<lang>/LC_MESSAGES/fava_ponto.po`` (and the built ``.mo``).
TRANSLATIONS = Path(__file__).parent / "translations"
#: The languages the page speaks besides English.
LANGUAGES = ("nl", "fr")


@functools.cache
def load(language: str) -> NullTranslations:
    """The catalog of ``language`` (``nl``, ``fr``); English text for any other language."""
    if language not in LANGUAGES:
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS), [language], domain=DOMAIN)


def language() -> str:
    """The language Fava selected for this request (``en`` outside a request)."""
    locale = get_locale() if has_request_context() else None
    return locale.language if locale is not None else "en"


def catalog() -> NullTranslations:
    """The catalog for the current request's language."""
    return load(language())
