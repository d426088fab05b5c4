"""Static material for the simulator's generated data.

Contract: pure constants and pure helpers (no randomness of their own):

* :func:`iban` computes a valid IBAN (mod-97 check digits) for a country and BBAN;
  :func:`belgian_bban` and :func:`ogm` build valid Belgian account numbers and
  structured communications (``+++090/9337/55493+++``) from given digits.
* :data:`PROFILES` lists realistic counterparts per account profile.
* :data:`NASTY` lists the hostile texts that must appear among account 1's newest
  transactions (tests of the other modules rely on each of them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


def _digits(text: str) -> str:
    return "".join(str(int(ch, 36)) for ch in text)


def iban(country: str, bban: str) -> str:
    """Return the IBAN for ``country`` (e.g. ``BE``) and ``bban``, with check digits."""
    check = 98 - int(_digits(bban + country + "00")) % 97
    return f"{country}{check:02d}{bban}"


def belgian_bban(ten_digits: int) -> str:
    """Return a valid 12-digit Belgian BBAN from a number below 10**10."""
    check = ten_digits % 97 or 97
    return f"{ten_digits:010d}{check:02d}"


def ogm(ten_digits: int) -> str:
    """Return a valid Belgian structured communication ``+++ddd/dddd/ddddd+++``."""
    check = ten_digits % 97 or 97
    d = f"{ten_digits:010d}{check:02d}"
    return f"+++{d[:3]}/{d[3:7]}/{d[7:]}+++"


@dataclass(frozen=True)
class Counterpart:
    """A typical counterpart: who, how (kind) and how much (cents range, sign)."""

    name: str
    kind: str  # "card", "debit", "transfer", "income", "interest"
    low: int
    high: int
    reference: str | None = None
    texts: tuple[str, ...] = ("Factuur {n}",)


def _be(seed: int) -> str:
    return iban("BE", belgian_bban(seed))


CHECKING: tuple[Counterpart, ...] = (
    Counterpart("Colruyt Laagste Prijzen NV", "card", 800, 15000),
    Counterpart("Delhaize De Leeuw", "card", 500, 9000),
    Counterpart("Albert Heijn Antwerpen", "card", 300, 6000),
    Counterpart("Kruidvat Gent", "card", 199, 3500),
    Counterpart("Apotheek Van Damme", "card", 450, 4200),
    Counterpart("NMBS/SNCB", "card", 250, 4500),
    Counterpart("De Lijn", "card", 250, 1200),
    Counterpart("Proximus NV", "debit", 4500, 9900, _be(6791234567), ("Factuur {n} Proximus",)),
    Counterpart("Telenet BV", "debit", 3900, 8900, _be(7370123456), ("Telenet klantnr {n}",)),
    Counterpart(
        "Engie Electrabel", "debit", 6000, 25000, _be(2100412345), ("Voorschot energie {n}",)
    ),
    Counterpart(
        "bol.com BV", "transfer", 999, 12999, iban("NL", "INGB0006543210"), ("Bestelling {n}",)
    ),
    Counterpart("Coolblue België NV", "transfer", 1999, 89900, _be(3630011223), ("Order {n}",)),
    Counterpart("Stad Gent", "transfer", 2500, 15000, _be(912345678), ("ogm",)),
    Counterpart("FOD Financiën", "transfer", 10000, 150000, _be(6792006000), ("ogm",)),
    Counterpart(
        "Pieter De Smet", "transfer", 500, 10000, _be(1430987654), ("Terugbetaling", "Etentje")
    ),
    Counterpart(
        "Christelijke Mutualiteit", "income", 1000, 8000, _be(8600111222), ("Terugbetaling {n}",)
    ),
    Counterpart("Acme Consulting BV", "income", 250000, 320000, _be(7330555111), ("Loon {month}",)),
    Counterpart(
        "Jansen Verhuur BV", "income", 20000, 90000, iban("NL", "ABNA0417164300"), ("Huur {month}",)
    ),
)

SAVINGS: tuple[Counterpart, ...] = (
    Counterpart("Jan Peeters", "transfer", 5000, 100000, None, ("Naar zichtrekening",)),
    Counterpart("Jan Peeters", "income", 10000, 150000, None, ("Sparen {month}",)),
    Counterpart("Demo Bank Belgium", "interest", 1, 2500, None, ("Interest",)),
)

FOREIGN: tuple[Counterpart, ...] = (
    Counterpart("GitHub, Inc.", "card", 400, 2100),
    Counterpart("Amazon Web Services", "card", 150, 9000),
    Counterpart(
        "Stripe Payments Europe",
        "income",
        5000,
        90000,
        iban("NL", "RABO0123456789"),
        ("Payout {n}",),
    ),
    Counterpart("Upwork Global Inc.", "income", 10000, 150000, None, ("Invoice {n}",)),
)

PROFILES: dict[str, tuple[Counterpart, ...]] = {
    "checking": CHECKING,
    "savings": SAVINGS,
    "foreign": FOREIGN,
}

MONTHS = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)

#: Bank transaction codes (ISO 20022 domain-family-subfamily) by kind and sign.
CODES: dict[str, str] = {
    "card": "PMNT-CCRD-POSD",
    "debit": "PMNT-RDDT-ESDD",
    "transfer": "PMNT-ICDT-ESCT",
    "income": "PMNT-RCDT-ESCT",
    "interest": "ACMT-MDOP-INTR",
}

DESCRIPTIONS: dict[str, str] = {
    "card": "Card payment",
    "debit": "Direct debit",
    "transfer": "Wire transfer",
    "income": "Wire transfer",
    "interest": "Interest",
}


@dataclass(frozen=True)
class Nasty:
    """A hand-written hostile transaction for account 1."""

    amount: Decimal
    description: str
    attributes: dict[str, Any] = field(default_factory=dict)


LONG_REMITTANCE = ("Lange mededeling " + "0123456789 abcdefghij " * 150)[:3000]

NASTY: tuple[Nasty, ...] = (
    Nasty(
        Decimal("-23.80"),
        "Card payment",
        {
            "counterpartName": 'Café "Chez \\ Nous"',
            "remittanceInformation": "Lunch \\ 2 pers.",
            "cardReference": "9876",
            "cardReferenceType": "MASKEDPAN",
            "bankTransactionCode": "PMNT-CCRD-POSD",
        },
    ),
    Nasty(
        Decimal("-120.00"),
        "Wire transfer",
        {
            "counterpartName": "Multi Line BV",
            "remittanceInformation": "Factuur 2024-017\nRegel twee\r\nRegel drie",
            "counterpartReference": iban("BE", belgian_bban(3101234567)),
        },
    ),
    Nasty(
        Decimal("-950.00"),
        "Wire transfer",
        {
            "counterpartName": "Jansen",
            "remittanceInformation": (
                "Naam: Jansen<br>Omschrijving: Huur maart<br>IBAN: NL91ABNA0417164300"
            ),
            "counterpartReference": "NL91ABNA0417164300",
            "bankTransactionCode": "PMNT-ICDT-ESCT",
        },
    ),
    Nasty(
        Decimal("-15.00"),
        "Wire transfer",
        {
            "counterpartName": "Shop; Co #1 ^caret! ltd",
            "remittanceInformation": "Order #123; ref ^A! 50% ; # ^ ! done",
        },
    ),
    Nasty(
        Decimal("-12.50"),
        "Card payment",
        {
            "counterpartName": "Pizzeria Zoe\u0301 \U0001f355",
            "remittanceInformation": (
                "Pizza \U0001f355\U0001f600 cafe\u0301 "
                "\u0645\u0631\u062d\u0628\u0627 zero\u200bwidth"
            ),
            "cardReference": "5555",
            "cardReferenceType": "MASKEDPAN",
        },
    ),
    Nasty(
        Decimal("-3.00"),
        "Wire transfer",
        {"counterpartName": "Long Text vzw", "remittanceInformation": LONG_REMITTANCE},
    ),
    Nasty(
        Decimal("-66.60"),
        "Wire transfer",
        {
            "counterpartName": "<img src=x onerror=alert(1)>",
            "remittanceInformation": "<script>alert('x')</script> & <b>bold</b>",
        },
    ),
    Nasty(
        Decimal("-250.00"),
        "Wire transfer",
        {
            "counterpartName": "Stad Gent",
            "remittanceInformation": "+++090/9337/55493+++",
            "remittanceInformationType": "structured",
            "counterpartReference": iban("BE", belgian_bban(912345678)),
        },
    ),
    Nasty(
        Decimal("-47.35"),
        "Card payment",
        {
            "counterpartName": "Delhaize De Leeuw",
            "remittanceInformation": "Betaling met Bancontact",
            "cardReference": "1234",
            "cardReferenceType": "MASKEDPAN",
            "bankTransactionCode": "PMNT-CCRD-POSD",
        },
    ),
    Nasty(
        Decimal("1520.35"),
        "Wire transfer",
        {
            "counterpartName": "Acme Consulting BV",
            "remittanceInformation": "Onkostennota 42",
            "endToEndId": "E2E-ACME-2024-000042",
            "bankTransactionCode": "PMNT-RCDT-ESCT",
            "counterpartReference": iban("BE", belgian_bban(7330555111)),
        },
    ),
    Nasty(
        Decimal("-42.50"),
        "Wire transfer",
        {
            "counterpartName": "Acme BV",
            "remittanceInformation": "Bestelling 7781",
            "bankTransactionCode": "PMNT-ICDT-ESCT",
            "proprietaryBankTransactionCode": "12345",
            "endToEndId": "NOTPROVIDED",
        },
    ),
    Nasty(
        Decimal("-7.50"),
        "Account maintenance fee",
        {
            "counterpartName": None,
            "remittanceInformation": None,
            "bankTransactionCode": "ACMT-MDOP-CHRG",
        },
    ),
)
