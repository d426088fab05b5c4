"""The Fava page in English, Dutch and French (Fava's ``language`` option), in a real Fava.

Also: every message has a translation in each catalog, the catalogs keep the
English placeholders, and the template (``messages.pot``) is up to date with
the sources, so a new string cannot be forgotten.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tests.conftest import Workspace
from tests.test_fava_extension import make_fava

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "fava_extension" / "fava_ponto" / "translations"
LANGUAGES = ("nl", "fr")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
TAG = re.compile(r"<(/?\w+)")

#: Phrases each language must show on the page of a synced workspace.
PHRASES = {
    "en": ["Ponto bank feed", "Sync now", "Bank balance", "Linked to", "Last runs", "Unlink"],
    "nl": [
        "Ponto-bankkoppeling",
        "Nu synchroniseren",
        "Banksaldo",
        "Gekoppeld aan",
        "Laatste uitvoeringen",
        "Ontkoppelen",
        "Toestemming",
    ],
    "fr": [
        "Flux bancaire Ponto",
        "Synchroniser maintenant",
        "Solde bancaire",
        "Lié à",
        "Dernières exécutions",
        "Délier",
        "Consentement",
    ],
}


def catalog(language: str) -> dict[str, str]:
    path = TRANSLATIONS / language / "LC_MESSAGES" / "fava_ponto.po"
    with path.open("rb") as handle:
        return {str(m.id): str(m.string) for m in read_po(handle) if m.id}


def template_ids(path: Path) -> set[str]:
    with path.open("rb") as handle:
        return {str(m.id) for m in read_po(handle) if m.id}


def set_language(ws: Workspace, language: str) -> None:
    with ws.ledger.open("a", encoding="utf-8") as handle:
        handle.write(f'\n2000-01-01 custom "fava-option" "language" "{language}"\n')


class PageText(HTMLParser):
    """The visible text of the Ponto page (its element, without style and script)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.skip = 0
        self.chunks: list[str] = []
        self.attributes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth or dict(attrs).get("id") == "ponto-page":
            self.depth += 1
            self.skip += tag in ("style", "script")
            self.attributes += [
                v for k, v in attrs if k in ("aria-label", "placeholder", "data-label") and v
            ]

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1
            self.skip -= tag in ("style", "script")

    def handle_data(self, data: str) -> None:
        if self.depth and not self.skip and data.strip():
            self.chunks.append(" ".join(data.split()))


def page_text(html: str) -> tuple[str, list[str]]:
    parser = PageText()
    parser.feed(html)
    return " ".join(parser.chunks), parser.chunks + parser.attributes


@pytest.fixture
def synced(ws: Workspace) -> Workspace:
    ws.sync()
    return ws


@pytest.mark.parametrize("language", ["en", *LANGUAGES])
def test_the_page_renders_in_the_ledgers_language(synced: Workspace, language: str) -> None:
    set_language(synced, language)
    fava = make_fava(synced, "{'auto_fetch': False}")
    html = fava.page()
    text, _chunks = page_text(html)
    for phrase in PHRASES[language]:
        assert phrase in text, (language, phrase)
    assert f'lang="{language}"' in html
    if language != "en":
        for phrase in PHRASES["en"]:
            assert phrase not in text, (language, phrase)


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_english_string_leaks_into_a_translated_page(synced: Workspace, language: str) -> None:
    """Every visible text node that is an English msgid must have been translated."""
    set_language(synced, language)
    html = make_fava(synced, "{'auto_fetch': False}").page()
    english = {m for m, t in catalog(language).items() if m != t}
    _text, chunks = page_text(html)
    leaked = {chunk for chunk in chunks if chunk.rstrip(":") in english or chunk in english}
    assert not leaked, leaked


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_scripts_strings_come_translated_in_the_page(synced: Workspace, language: str) -> None:
    set_language(synced, language)
    fava = make_fava(synced, "{'auto_fetch': False}")
    html = fava.page()
    match = re.search(r'data-strings="([^"]*)"', html)
    assert match
    strings = json.loads(unescape(match.group(1)))
    assert "Working…" in strings  # the script's own t("...") calls, read from FavaPonto.js
    messages = catalog(language)
    for msgid, text in strings.items():
        assert text == messages[msgid], msgid


@pytest.mark.parametrize("language", LANGUAGES)
def test_messages_of_the_page_endpoints_follow_the_language(
    synced: Workspace, language: str
) -> None:
    set_language(synced, language)
    fava = make_fava(synced, "{'auto_fetch': False}")
    answer = fava.post("unlink", {"ponto_id": synced.sim.account_ids[0]}).get_json()
    assert answer["success"], answer
    assert answer["data"]["message"].startswith("Unlinked") is False
    assert (
        catalog(language)["Unlinked %(link)s."].split("%(link)s")[1].strip()
        in answer["data"]["message"]
    )
    refused = fava.post("unlink", {"ponto_id": synced.sim.account_ids[0]}).get_json()
    assert refused["error"] == catalog(language)["this Ponto account is not linked"]


@pytest.mark.slow
def test_a_sync_jobs_progress_speaks_the_language_of_who_started_it(synced: Workspace) -> None:
    set_language(synced, "nl")
    fava = make_fava(synced, "{'auto_fetch': False}")
    assert fava.post("sync").get_json()["success"]
    job = fava.wait_job()
    nl = catalog("nl")
    assert nl["Asking Ponto to refresh from the bank..."] in job["messages"], job["messages"]
    assert any(m.startswith("Klaar: ") for m in job["messages"]), job["messages"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_has_a_translation_with_the_same_placeholders(language: str) -> None:
    messages = catalog(language)
    assert set(messages) == template_ids(TRANSLATIONS / "messages.pot")
    for msgid, text in messages.items():
        assert text.strip(), f"{language}: no translation for {msgid!r}"
        assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(msgid)), msgid
        assert set(TAG.findall(text)) == set(TAG.findall(msgid)), f"{language}: markup of {msgid!r}"


def test_the_message_template_is_up_to_date_with_the_sources(tmp_path: Path) -> None:
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_",
            "-k",
            "t",
            "--no-location",
            "--sort-output",
            "--omit-header",
            "-o",
            str(fresh),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    assert template_ids(fresh) == template_ids(TRANSLATIONS / "messages.pot"), (
        "run the extract command in babel.cfg, then translate the new strings"
    )


def test_the_catalogs_are_built_and_shipped() -> None:
    import fava_ponto.i18n

    for language in LANGUAGES:
        assert (fava_ponto.i18n.TRANSLATIONS / language / "LC_MESSAGES" / "fava_ponto.mo").is_file()
        assert fava_ponto.i18n.load(language).gettext("Sync now") != "Sync now"
