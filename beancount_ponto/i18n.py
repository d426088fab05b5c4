"""The language of the Fava page's messages (English, Dutch, French).

Contract: the page's Python-side messages are written as ``_("English text",
name=value)``; :func:`_` translates with the catalog chosen for the current
context (a :class:`contextvars.ContextVar`, so each Fava request and each
background job started from it has its own) and then fills ``%(name)s``
placeholders. Without a chosen catalog the text stays English. The catalogs
themselves live with the Fava extension (``fava_ponto/translations``), which
calls :func:`use` at the start of each request; background jobs copy the
context of the request that started them, so their progress lines are in the
language of the user who pressed *Sync now*.
"""

from __future__ import annotations

import contextvars
import gettext as gettext_module
from typing import Protocol

__all__ = ["Catalog", "_", "use"]


class Catalog(Protocol):
    """What the page needs of a translation catalog (``gettext``/Babel ``Translations``)."""

    def gettext(self, message: str) -> str:
        """The translation of ``message``, or ``message`` itself when it has none."""


_ENGLISH = gettext_module.NullTranslations()
_current: contextvars.ContextVar[Catalog | None] = contextvars.ContextVar(
    "ponto_page_catalog", default=None
)


def use(catalog: Catalog) -> None:
    """Translate with ``catalog`` in the current context (request or job) from now on."""
    _current.set(catalog)


def _(message: str, **values: object) -> str:
    """``message`` in the current language, its ``%(name)s`` placeholders filled from ``values``."""
    text = (_current.get() or _ENGLISH).gettext(message)
    return text % values if values else text
