"""Tests for beancount_ponto.convert (pure: no network, no files)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from beancount import loader
from beancount.core import data
from beancount.core.amount import Amount

from beancount_ponto.convert import (
    ConvertOptions,
    balance_to_entry,
    clean_text,
    format_entries,
    local_date,
    transaction_to_entry,
)
from beancount_ponto.errors import ConfigError, MalformedResponseError
from beancount_ponto.ponto.models import Account, Transaction

BRUSSELS = ZoneInfo("Europe/Brussels")
OPTS = ConvertOptions(account="Assets:Bank:Checking", time_zone=BRUSSELS)
LEDGER_HEAD = (
    "2000-01-01 open Assets:Bank:Checking\n"
    "2000-01-01 open Expenses:Uncategorized\n"
    "2000-01-01 open Expenses:Other\n\n"
)


def make_tx(**attributes: Any) -> Transaction:
    attrs: dict[str, Any] = {
        "amount": Decimal("-42.50"),
        "currency": "EUR",
        "valueDate": "2024-03-01T23:00:00.000Z",
        "executionDate": "2024-03-01T23:00:00.000Z",
        "description": "Wire transfer",
        "remittanceInformation": "Invoice 123",
        "remittanceInformationType": "unstructured",
        "counterpartName": "Acme BV",
        "counterpartReference": "BE23732688626491",
    }
    attrs.update(attributes)
    resource = {
        "type": "transaction",
        "id": "3e88a1b2-0000-4000-8000-000000000001",
        "attributes": attrs,
        "relationships": {"account": {"data": {"type": "account", "id": "acc-1"}}},
    }
    return Transaction.from_api(resource)


def make_account(**attributes: Any) -> Account:
    attrs: dict[str, Any] = {
        "currency": "EUR",
        "reference": "BE68539007547034",
        "currentBalance": Decimal("1234.56"),
        "currentBalanceReferenceDate": "2024-03-01T23:00:00.000Z",
    }
    attrs.update(attributes)
    return Account.from_api({"type": "account", "id": "acc-1", "attributes": attrs})


def load(text: str) -> list[Any]:
    entries, errors, _ = loader.load_string(LEDGER_HEAD + text)
    assert errors == []
    return [e for e in entries if not isinstance(e, data.Open)]


def user_meta(entry: data.Directive) -> dict[str, Any]:
    meta = entry.meta.items()
    return {k: v for k, v in meta if k not in ("filename", "lineno") and not k.startswith("__")}


# --- dates ---------------------------------------------------------------


def test_local_date_uses_time_zone() -> None:
    ts = dt.datetime(2024, 3, 1, 23, 0, tzinfo=dt.UTC)
    assert local_date(ts, BRUSSELS) == dt.date(2024, 3, 2)
    assert local_date(ts, dt.UTC) == dt.date(2024, 3, 1)
    summer = dt.datetime(2024, 6, 30, 22, 0, tzinfo=dt.UTC)
    assert local_date(summer, BRUSSELS) == dt.date(2024, 7, 1)
    assert local_date(dt.datetime(2024, 6, 30, 21, 59, tzinfo=dt.UTC), BRUSSELS) == dt.date(
        2024, 6, 30
    )


def test_local_date_naive_is_utc() -> None:
    assert local_date(dt.datetime(2024, 3, 1, 23, 0), BRUSSELS) == dt.date(2024, 3, 2)


def test_entry_date_follows_time_zone() -> None:
    tx = make_tx()
    assert transaction_to_entry(tx, OPTS).date == dt.date(2024, 3, 2)
    utc = ConvertOptions(account="Assets:Bank:Checking", time_zone=dt.UTC)
    assert transaction_to_entry(tx, utc).date == dt.date(2024, 3, 1)
    summer = make_tx(executionDate="2024-06-30T22:00:00.000Z", valueDate="2024-06-30T22:00:00Z")
    assert transaction_to_entry(summer, OPTS).date == dt.date(2024, 7, 1)
    assert transaction_to_entry(summer, utc).date == dt.date(2024, 6, 30)


def test_other_date_kept_only_when_different() -> None:
    tx = make_tx(valueDate="2024-03-03T23:00:00.000Z")
    entry = transaction_to_entry(tx, OPTS)
    assert entry.date == dt.date(2024, 3, 2)
    assert entry.meta["value_date"] == dt.date(2024, 3, 4)
    assert "execution_date" not in entry.meta

    by_value = ConvertOptions(
        account="Assets:Bank:Checking", time_zone=BRUSSELS, use_value_date=True
    )
    entry = transaction_to_entry(tx, by_value)
    assert entry.date == dt.date(2024, 3, 4)
    assert entry.meta["execution_date"] == dt.date(2024, 3, 2)
    assert "value_date" not in entry.meta

    same = transaction_to_entry(make_tx(), by_value)
    assert "execution_date" not in same.meta
    assert "value_date" not in same.meta


def test_use_value_date_without_value_date_falls_back() -> None:
    tx = make_tx(valueDate=None)
    by_value = ConvertOptions(
        account="Assets:Bank:Checking", time_zone=BRUSSELS, use_value_date=True
    )
    entry = transaction_to_entry(tx, by_value)
    assert entry.date == dt.date(2024, 3, 2)
    assert "execution_date" not in entry.meta
    assert "value_date" not in transaction_to_entry(tx, OPTS).meta


# --- payee, narration, metadata ---------------------------------------------


def test_payee_and_narration_fallbacks() -> None:
    entry = transaction_to_entry(make_tx(), OPTS)
    assert (entry.payee, entry.narration) == ("Acme BV", "Invoice 123")
    assert entry.meta["description"] == "Wire transfer"

    entry = transaction_to_entry(make_tx(remittanceInformation="  ", counterpartName=""), OPTS)
    assert entry.payee is None
    assert entry.narration == "Wire transfer"
    assert "description" not in entry.meta

    entry = transaction_to_entry(
        make_tx(remittanceInformation=None, description=None, counterpartName=None), OPTS
    )
    assert (entry.payee, entry.narration) == (None, "")

    same = transaction_to_entry(make_tx(description="Invoice  123"), OPTS)
    assert "description" not in same.meta


def test_flag_tags_links() -> None:
    bang = ConvertOptions(account="Assets:Bank:Checking", time_zone=BRUSSELS, flag="!")
    entry = transaction_to_entry(make_tx(), bang)
    assert entry.flag == "!"
    assert entry.tags == frozenset()
    assert entry.links == frozenset()
    assert entry.meta["filename"] == "<ponto>"
    assert entry.meta["lineno"] == 0


def test_metadata_full_order() -> None:
    tx = make_tx(
        remittanceInformation="+++090/9337/55493+++",
        remittanceInformationType="structured",
        valueDate="2024-03-02T23:00:00.000Z",
        endToEndId="E2E-1",
        bankTransactionCode="PMNT-ICDT-ESCT",
        proprietaryBankTransactionCode="12345",
        purposeCode="CASH",
        mandateId="M-1",
        creditorId="BE00ZZZ",
        cardReference="1234",
        cardReferenceType="MASKEDPAN",
        additionalInformation="extra\ninfo",
        fee=Decimal("0.50"),
    )
    entry = transaction_to_entry(tx, OPTS)
    assert user_meta(entry) == {
        "ponto_id": "3e88a1b2-0000-4000-8000-000000000001",
        "description": "Wire transfer",
        "counterpart_iban": "BE23732688626491",
        "structured_reference": "+++090/9337/55493+++",
        "end_to_end_id": "E2E-1",
        "bank_transaction_code": "PMNT-ICDT-ESCT",
        "proprietary_bank_transaction_code": "12345",
        "purpose_code": "CASH",
        "mandate_id": "M-1",
        "creditor_id": "BE00ZZZ",
        "card_reference": "1234",
        "card_reference_type": "MASKEDPAN",
        "additional_information": "extra | info",
        "fee": Decimal("0.50"),
        "value_date": dt.date(2024, 3, 3),
    }
    assert list(user_meta(entry)) == list(user_meta(load(format_entries([entry]))[0]))
    assert entry.narration == "+++090/9337/55493+++"


def test_metadata_skips_empty_and_placeholders() -> None:
    tx = make_tx(
        counterpartReference="",
        endToEndId="NOTPROVIDED",
        bankTransactionCode="  ",
        purposeCode=None,
        mandateId="\u200b",
        fee=None,
    )
    entry = transaction_to_entry(tx, OPTS)
    assert list(user_meta(entry)) == ["ponto_id", "description"]
    assert "fee" not in transaction_to_entry(make_tx(fee=Decimal("0.00")), OPTS).meta


def test_fee_meta_prints_in_plain_notation() -> None:
    entries = [
        transaction_to_entry(make_tx(fee=Decimal("1E+2")), OPTS),
        transaction_to_entry(make_tx(fee=Decimal("0.0000001")), OPTS),
    ]
    loaded = load(format_entries(entries))
    assert loaded[0].meta["fee"] == Decimal(100)
    assert Decimal(loaded[1].meta["fee"]) == Decimal("0.0000001")


# --- postings and amounts ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "currency", "written"),
    [
        ("-42.5", "EUR", "-42.50"),
        ("100", "EUR", "100.00"),
        ("-0.001", "EUR", "-0.001"),  # never rounded
        ("1500", "JPY", "1500"),  # no minor unit
        ("1.5", "BHD", "1.500"),  # three
    ],
)
def test_amounts_are_written_with_the_currencys_decimals(
    raw: str, currency: str, written: str
) -> None:
    entry = transaction_to_entry(make_tx(amount=Decimal(raw), currency=currency), OPTS)
    assert f"  {written} {currency}" in format_entries([entry])


@pytest.mark.parametrize(
    "raw", ["-42.50", "2.76", "100", "0.00", "12345678901234567890.12345678", "1E+2", "-0.001"]
)
def test_postings_exact(raw: str) -> None:
    number = Decimal(raw)
    entry = transaction_to_entry(make_tx(amount=number), OPTS)
    first, second = entry.postings
    assert first.account == "Assets:Bank:Checking"
    assert first.units == Amount(number, "EUR")
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # a finite number
    written = number if exponent <= -2 else number.quantize(Decimal("0.01"))
    assert str(first.units) == f"{written} EUR" or "E" in raw  # at least the cents
    assert second.account == "Expenses:Uncategorized"
    assert second.units == Amount(number.copy_negate(), "EUR")
    negated = second.units.number if second.units is not None else None
    assert isinstance(negated, Decimal)
    assert negated.is_signed() == (number > 0)
    assert first.cost is None and first.price is None and second.cost is None
    (loaded,) = load(format_entries([entry]))
    assert [p.units for p in loaded.postings] == [p.units for p in entry.postings]


def test_two_decimals_kept() -> None:
    entry = transaction_to_entry(make_tx(amount=Decimal("-42.50")), OPTS)
    units = entry.postings[0].units
    assert units is not None and isinstance(units.number, Decimal)
    assert units.number.as_tuple().exponent == -2
    assert "-42.50 EUR" in format_entries([entry])


def test_counter_account_option() -> None:
    opts = ConvertOptions(
        account="Assets:Bank:Checking", time_zone=BRUSSELS, counter_account="Expenses:Other"
    )
    entry = transaction_to_entry(make_tx(), opts)
    assert entry.postings[1].account == "Expenses:Other"


@pytest.mark.parametrize("currency", ["eur", "EU R", "", "EUR\n", "€", "1EUR", "EUR-"])
def test_invalid_currency(currency: str) -> None:
    tx = make_tx(currency=currency)
    with pytest.raises(MalformedResponseError, match="3e88a1b2"):
        transaction_to_entry(tx, OPTS)


def test_amount_must_be_decimal() -> None:
    tx = make_tx()
    bad = Transaction(**{**tx.__dict__, "amount": -42.5})
    with pytest.raises(MalformedResponseError, match="3e88a1b2"):
        transaction_to_entry(bad, OPTS)


def test_options_validation() -> None:
    with pytest.raises(ConfigError):
        ConvertOptions(account="assets:bank", time_zone=BRUSSELS)
    with pytest.raises(ConfigError):
        ConvertOptions(account="Assets:Bank", time_zone=BRUSSELS, flag="x")


# --- balance ----------------------------------------------------------------------


def test_balance_entry() -> None:
    entry = balance_to_entry(make_account(), OPTS)
    assert entry is not None
    assert entry.date == dt.date(2024, 3, 3)  # reference 2024-03-02 local, asserted next morning
    assert entry.account == "Assets:Bank:Checking"
    assert entry.amount == Amount(Decimal("1234.56"), "EUR")
    assert user_meta(entry) == {"ponto_balance": "acc-1/2024-03-02"}
    opening = transaction_to_entry(make_tx(amount=Decimal("1234.56")), OPTS)
    _, loaded = load(format_entries([opening, entry]))
    assert loaded.amount == entry.amount
    assert loaded.meta["ponto_balance"] == "acc-1/2024-03-02"


def test_balance_entry_utc() -> None:
    utc = ConvertOptions(account="Assets:Bank:Checking", time_zone=dt.UTC)
    entry = balance_to_entry(make_account(), utc)
    assert entry is not None
    assert entry.date == dt.date(2024, 3, 2)


@pytest.mark.parametrize("attrs", [{"currentBalance": None}, {"currentBalanceReferenceDate": None}])
def test_balance_entry_none(attrs: dict[str, Any]) -> None:
    assert balance_to_entry(make_account(**attrs), OPTS) is None


def test_balance_invalid_currency() -> None:
    with pytest.raises(MalformedResponseError, match="acc-1"):
        balance_to_entry(make_account(currency="eur"), OPTS)


# --- clean_text ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ("", None),
        ("   \t\n ", None),
        ("<br>", None),
        ("  Acme   BV ", "Acme BV"),
        ("a\r\nb\nc\rd\u2028e\u2029f\x85g", "a | b | c | d | e | f | g"),
        ("Naam: X<br>Omschrijving: Y", "Naam: X | Omschrijving: Y"),
        ("a<BR/>b<Br />c<br\t/>d", "a | b | c | d"),
        ("a\n\n\nb\n", "a | b"),
        ("a\tb\x00c\x1bd\x7fe\x9ff", "a b c d e f"),
        ("pay\u200bpal", "paypal"),
        ("\ufeffabc\u202edef\u2066x\u2069\u200e\u200f", "abcdefx"),
        ("e\u0301cole", "\u00e9cole"),
        ("👩\u200d💻 café عربي 日本", "👩\u200d💻 café عربي 日本"),
        ('say "hi" \\ ; # ^', 'say "hi" \\ ; # ^'),
        ("lone \ud800 surrogate", "lone surrogate"),
        # Fava's journal does not escape payees: angle brackets are defused
        ("<img src=x onerror=alert(1)>", "\u2039img src=x onerror=alert(1)\u203a"),
        ("a < b > c", "a \u2039 b \u203a c"),
    ],
)
def test_clean_text(raw: str | None, expected: str | None) -> None:
    assert clean_text(raw) == expected


def test_clean_text_never_truncates() -> None:
    text = "word " * 2000
    assert clean_text(text) == text.strip()


# --- round trip through the printer and the parser -------------------------------------

NASTY = [
    'He said "hello"',
    '"',
    '""""',
    "back\\slash",
    "trailing backslash\\",
    "\\",
    '\\"',
    '\\\\"\\',
    "escape look-alikes \\n \\t \\x41 \\u0041 \\101",
    "; not a comment",
    "#tag ^link @ {cost} 100 EUR",
    "Assets:Bank 10 EUR",
    '2024-01-01 * "fake"',
    "<img src=x onerror=alert(1)>",
    "<script>alert('x')</script>",
    "Naam: X<br>Omschrijving: Y\r\nline 3",
    "é ü ß ñ 😀 👨\u200d👩\u200d👧 عربي עברית 中文 🇧🇪",
    "tab\there nul\x00 bell\x07 del\x7f",
    "x" * 3500,
    ('a"b\\c;' * 700),
    "\u202egnp.exe",
    "   ",
]


@pytest.mark.parametrize("text", NASTY, ids=range(len(NASTY)))
def test_nasty_text_round_trips(text: str) -> None:
    tx = make_tx(
        counterpartName=text,
        remittanceInformation=text,
        description=f"desc {text}",
        additionalInformation=text,
        counterpartReference=text,
        endToEndId=text,
    )
    entry = transaction_to_entry(tx, OPTS)
    (loaded,) = load(format_entries([entry]))
    assert isinstance(loaded, data.Transaction)
    assert loaded.payee == entry.payee
    assert loaded.narration == entry.narration
    assert user_meta(loaded) == user_meta(entry)
    assert [p.units for p in loaded.postings] == [p.units for p in entry.postings]
    cleaned = clean_text(text)
    assert entry.payee == cleaned
    if cleaned is not None:
        assert entry.narration == cleaned
        assert len(cleaned) >= min(len(text.strip()), 3000) // 2


def test_whole_set_passes_checks() -> None:
    by_value = ConvertOptions(
        account="Assets:Bank:Checking", time_zone=BRUSSELS, use_value_date=True, flag="!"
    )
    entries: list[data.Directive] = [
        transaction_to_entry(make_tx(amount=Decimal("1000.00")), OPTS),
        transaction_to_entry(make_tx(amount=Decimal("-42.50"), fee=Decimal("0.25")), OPTS),
        transaction_to_entry(make_tx(amount=Decimal("-0.01"), remittanceInformation='"q"'), OPTS),
        transaction_to_entry(make_tx(amount=Decimal("7"), valueDate="2024-03-02T23:00Z"), by_value),
    ]
    balance = balance_to_entry(make_account(currentBalance=Decimal("957.49")), OPTS)
    assert balance is not None
    entries.append(balance)
    text = format_entries(entries)
    assert "\n\n2024" in text
    assert text.endswith("\n") and not text.endswith("\n\n")
    loaded = load(text)  # asserts no parse, balance or booking errors
    assert len(loaded) == 5
    txns = [e for e in loaded if isinstance(e, data.Transaction)]
    assert [e.meta["ponto_id"] for e in txns] == ["3e88a1b2-0000-4000-8000-000000000001"] * 4


def test_balance_mismatch_is_reported() -> None:
    entries: list[data.Directive] = [transaction_to_entry(make_tx(amount=Decimal(5)), OPTS)]
    balance = balance_to_entry(make_account(currentBalance=Decimal("4.90")), OPTS)
    assert balance is not None
    _, errors, _ = loader.load_string(LEDGER_HEAD + format_entries([*entries, balance]))
    assert len(errors) == 1


def test_format_entries_empty() -> None:
    assert format_entries([]) == ""


def test_printer_escapes_quotes_and_backslashes() -> None:
    entry = transaction_to_entry(
        make_tx(counterpartName='A "B" \\ C', remittanceInformation="x\\ny"), OPTS
    )
    text = format_entries([entry])
    assert '"A \\"B\\" \\\\ C" "x\\\\ny"' in text
    (loaded,) = load(text)
    assert (loaded.payee, loaded.narration) == ('A "B" \\ C', "x\\ny")


def test_unusable_id_is_rejected() -> None:
    tx = make_tx()
    bad = Transaction(**{**tx.__dict__, "id": "abc\n\x00"})
    with pytest.raises(MalformedResponseError, match="id"):
        transaction_to_entry(bad, OPTS)
