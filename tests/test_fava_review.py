"""The Fava page's "To review" section in a real Fava (create_app + test client)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from beancount_ponto.review import count_to_review
from tests.conftest import bean_check
from tests.test_fava_extension import make_fava
from tests.test_fava_i18n import set_language

if TYPE_CHECKING:
    from tests.conftest import Workspace
    from tests.test_fava_extension import Fava

#: a learned guess, a placeholder entry and a reviewed guess (flag * now)
ENTRIES = """\
2000-01-01 open Expenses:Groceries
2000-01-01 open Expenses:Uncategorized

2026-03-02 ! "Delhaize" "Weekly shop"
  ponto_id: "tx-guess"
  ponto_guess: "Expenses:Groceries: 9 of 10 similar"
  Assets:Bank:Checking  -42.10 EUR
  Expenses:Groceries

2026-03-03 * "Unknown shop" "Card payment"
  ponto_id: "tx-placeholder"
  Assets:Bank:Checking  -7.50 EUR
  Expenses:Uncategorized

2026-03-04 * "Colruyt" "Reviewed shop"
  ponto_id: "tx-reviewed"
  ponto_guess: "Expenses:Groceries: 8 of 10 similar"
  Assets:Bank:Checking  -13.00 EUR
  Expenses:Groceries
"""


def review_section(html: str) -> str:
    start = html.index('<section id="ponto-review"')
    return html[start : html.index("</section>", start)]


def count_of(html: str) -> int:
    match = re.search(r'data-testid="review-count">(\d+)<', review_section(html))
    assert match
    return int(match.group(1))


def test_page_lists_guesses_and_placeholders_with_links_to_the_journal(ws: Workspace) -> None:
    ws.output.write_text(ENTRIES, encoding="utf-8")
    assert bean_check(ws.ledger) == []
    fava: Fava = make_fava(ws, "{'auto_fetch': False}")
    html = fava.page()
    section = review_section(html)
    assert count_of(html) == 2
    assert "Delhaize" in section and "Unknown shop" in section
    assert "Colruyt" not in section  # reviewed: flag * now
    assert "guess: Expenses:Groceries: 9 of 10 similar" in section
    assert "Expenses:Uncategorized" in section
    assert section.index("Unknown shop") < section.index("Delhaize")  # newest first
    links = re.findall(r'href="([^"]+)" data-testid="review-link"', section)
    assert len(links) == 2
    for link, payee in zip(links, ("Unknown shop", "Delhaize"), strict=True):
        page, _sep, fragment = link.partition("#context-")
        assert page == "/test/journal/"
        assert fava.open(page).status_code == 200
        # The journal opens the entry's context from the fragment, as Fava's own links do.
        context = fava.open(f"/test/api/context?entry_hash={fragment}")
        assert context.status_code == 200
        assert context.get_json()["data"]["entry"]["payee"] == payee
    assert "and 0 more" not in section and 'data-testid="review-more"' not in section


def test_page_count_agrees_with_status_after_a_sync(ws: Workspace) -> None:
    ws.sync()
    fava = make_fava(ws, "{'auto_fetch': False}")
    html = fava.page()
    config = ws.config
    placeholders = frozenset({config.counter_account, config.income_account})
    expected = count_to_review(ws.ledger, placeholders, ws.output)
    assert expected > 60  # the simulator's entries all sit on a placeholder
    assert count_of(html) == expected
    section = review_section(html)
    assert len(re.findall(r'data-testid="review-link"', section)) == 50
    assert f"and {expected - 50} more" in section


def test_nothing_to_review_is_said(ws: Workspace) -> None:
    ws.output.write_text(ENTRIES.split("2026-03-02", maxsplit=1)[0], encoding="utf-8")
    html = make_fava(ws, "{'auto_fetch': False}").page()
    assert count_of(html) == 0
    assert "Nothing to review" in review_section(html)


@pytest.mark.parametrize(
    ("language", "title", "guess"),
    [("nl", "Na te kijken", "gissing: "), ("fr", "À vérifier", "supposition : ")],
)
def test_the_section_is_translated(ws: Workspace, language: str, title: str, guess: str) -> None:
    ws.output.write_text(ENTRIES, encoding="utf-8")
    set_language(ws, language)
    section = review_section(make_fava(ws, "{'auto_fetch': False}").page())
    assert title in section and guess in section
    assert "To review" not in section and "show the entry" not in section
