"""A realistic, noisy multi-year Belgian household bank history, booked by its user.

Used by the learning tests and ``benchmarks/learn_accuracy.py``. Contract:
:func:`household_history` is deterministic for a seed and returns
:class:`Booked` items (a Ponto :class:`~beancount_ponto.ponto.models.Transaction` and
the account the user booked its other leg to), oldest first.

What makes it hard on purpose: card payments with no counterpart name, the
merchant only inside the communication among card numbers (``6703 04XX XXXX
1234``, ``****1234``), shop numbers, towns, dates and times in three bank
styles; one landlord whose name is spelled four ways; one insurer for two
policies; one employer paying salary, holiday pay and a bonus; friends who
pay back dinners and get gifts; new restaurants and shops each year; a few
bookings the user made inconsistently.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from beancount_ponto.ponto.models import Transaction

__all__ = ["Booked", "household_history"]

BRUSSELS = ZoneInfo("Europe/Brussels")
TOWNS = ["UCCLE", "UKKEL", "FOREST", "VORST", "IXELLES", "ELSENE", "HALLE", "DROGENBOS",
         "WATERLOO", "BRUXELLES", "BRUSSEL", "ANDERLECHT", "LINKEBEEK", "BEERSEL"]  # fmt: skip

#: (display names, legal name or None, account, typical amount, monthly visits)
SHOPS: list[tuple[list[str], str | None, str, float, float]] = [
    (["AD DELHAIZE", "DELHAIZE", "SHOP&GO DELHAIZE"], "DELHAIZE LE LION SA",
     "Expenses:Food:Groceries", 45, 5),
    (["COLRUYT", "COLRUYT LAAGSTE PRIJZEN"], "ETS FRANZ COLRUYT NV",
     "Expenses:Food:Groceries", 80, 3),
    (["ALDI", "ALDI MARKT"], None, "Expenses:Food:Groceries", 35, 2),
    (["LIDL"], "LIDL BELGIUM GMBH", "Expenses:Food:Groceries", 30, 1),
    (["CARREFOUR MARKET", "CARREFOUR EXPRESS"], None, "Expenses:Food:Groceries", 25, 1),
    (["BOULANGERIE DEBAILLEUL", "BAKKERIJ DEMAN"], None, "Expenses:Food:Bakery", 7, 4),
    (["TOTAL", "TOTALENERGIES"], None, "Expenses:Car:Fuel", 65, 1.5),
    (["SHELL", "Q8"], None, "Expenses:Car:Fuel", 60, 1),
    (["PHARMACIE MULTIPHARMA", "APOTHEEK"], None, "Expenses:Health:Pharmacy", 18, 1),
    (["IKEA", "BRICO", "HUBO", "ACTION"], None, "Expenses:Household", 40, 1),
    (["ZARA", "H&M", "C&A"], None, "Expenses:Clothing", 50, 0.7),
    (["DECATHLON"], "DECATHLON BELGIUM", "Expenses:Sports", 40, 0.4),
    (["SNCB", "NMBS"], "SNCB-NMBS", "Expenses:Transport:Train", 12, 1),
    (["STIB MIVB"], None, "Expenses:Transport:Public", 2.1, 2),
    (["GELDAUTOMAAT BNP", "BANCONTACT ATM"], None, "Expenses:Cash", 50, 1),
    (["KINEPOLIS", "UGC"], None, "Expenses:Leisure:Cinema", 24, 0.4),
]  # fmt: skip
RESTAURANT_KINDS = ["BRASSERIE", "PIZZERIA", "SUSHI", "FRITUUR", "RESTO", "TRATTORIA", "BISTRO"]
RESTAURANT_NAMES = ["LE PARC", "DA MARIO", "KOYA", "DE GROTE", "LA PLACE", "CHEZ LEON", "LA TOUR",
                    "MOMO", "DEN HAAN", "SAN MARCO", "LE CORNER", "TOKYO", "DE LINDE", "ROMA",
                    "DU MIDI", "ST JOB", "LA ROSE", "WOK", "DE KROON", "DEL SOL"]  # fmt: skip

#: (name variants, IBAN, account, amount, sign, communications, day, months or None)
PAYEES: list[tuple[list[str], str, str, float, int, list[str], int, list[int] | None]] = [
    (["PEETERS JAN", "J. Peeters", "Peeters-Maes J & E", "Mr Jan Peeters"],
     "BE23 7326 8862 6491", "Expenses:Housing:Rent", 950, -1,
     ["huur {month}", "Huur appartement {month}", "loyer {month}"], 1, None),
    (["ACME BELGIUM NV", "ACME BELGIUM"], "BE71 0961 2345 6769", "Income:Salary", 3150, 1,
     ["LOON {mm}/{yyyy}", "SALAIRE {mm}/{yyyy} REF {ref}"], 25, None),
    (["ACME BELGIUM NV"], "BE71 0961 2345 6769", "Income:HolidayPay", 2900, 1,
     ["VAKANTIEGELD {yyyy} REF {ref}"], 28, [5]),
    (["ACME BELGIUM NV"], "BE71 0961 2345 6769", "Income:Bonus", 3000, 1,
     ["EINDEJAARSPREMIE {yyyy}"], 20, [12]),
    (["PROXIMUS SA", "PROXIMUS"], "BE82 2100 0000 0122", "Expenses:Telecom", 55, -1,
     ["Facture {ref} client {ref}", "DOMICILIERING PROXIMUS {ref}"], 8, None),
    (["ENGIE ELECTRABEL", "Engie"], "BE46 0003 2544 8336", "Expenses:Utilities:Energy", 120, -1,
     ["Voorschot {month} klant {ref}", "Acompte {month} {ref}"], 12, None),
    (["VIVAQUA"], "BE93 0910 0011 2223", "Expenses:Utilities:Water", 40, -1,
     ["Facture eau {ref}"], 18, [2, 5, 8, 11]),
    (["AG INSURANCE"], "BE64 2100 4445 5566", "Expenses:Insurance:Car", 62, -1,
     ["Polis {ref} auto", "Police auto {ref}"], 3, None),
    (["AG INSURANCE"], "BE64 2100 4445 5566", "Expenses:Insurance:Home", 31, -1,
     ["Polis {ref} woning", "Police habitation {ref}"], 3, None),
    (["NETFLIX.COM"], "", "Expenses:Subscriptions:Streaming", 15.99, -1,
     ["NETFLIX.COM AMSTERDAM {dd}/{mm}"], 14, None),
    (["Spotify AB", "SPOTIFY"], "", "Expenses:Subscriptions:Music", 10.99, -1,
     ["Spotify P{ref} Stockholm"], 2, None),
    (["Groeipakket FAMIWAL", "FAMIWAL"], "BE55 0912 1000 4444", "Income:ChildBenefit", 180, 1,
     ["Kinderbijslag {month} dossier {ref}", "Allocations familiales {month}"], 9, None),
    (["MUTUALITE CHRETIENNE", "CM-MC"], "BE21 0000 4444 5555", "Expenses:Health:Doctor", 25, 1,
     ["Remboursement soins {ref}", "Terugbetaling {ref}"], 15, [1, 3, 4, 6, 9, 10]),
    (["Dr. VAN DAMME", "DR VAN DAMME K"], "BE36 0635 1122 3344", "Expenses:Health:Doctor", 30, -1,
     ["Consultatie {dd}/{mm}", "consult {ref}"], 20, [2, 4, 9, 11]),
    (["SPAARREKENING"], "BE12 0012 3456 7890", "Assets:Bank:Savings", 300, -1,
     ["Sparen {month}", "epargne"], 26, None),
    (["FOD FINANCIEN"], "BE79 6792 0022 9133", "Income:TaxRefund", 640, 1,
     ["Teruggave belasting {yyyy} {ref}"], 15, [7]),
    (["FOD FINANCIEN"], "BE79 6792 0022 9133", "Expenses:Taxes", 210, -1,
     ["Voorafbetaling {yyyy} {ref}", "Onroerende voorheffing {ref}"], 10, [4, 10]),
]  # fmt: skip
FRIENDS = [
    (["Sophie Dubois", "DUBOIS SOPHIE"], "BE68 5390 0754 7034"),
    (["Tom Janssens", "JANSSENS T."], "BE09 7350 1234 5657"),
    (["M. Lambert", "MARC LAMBERT"], "BE43 0682 9999 1010"),
]
MONTHS = ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
          "september", "oktober", "november", "december"]  # fmt: skip


@dataclass(frozen=True)
class Booked:
    """One bank transaction as Ponto gives it, and how its user booked it.

    Attributes:
        transaction: the transaction as Ponto sends it.
        label: the account the user booked the other leg to.
    """

    transaction: Transaction
    label: str


class _Maker:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.items: list[Booked] = []
        self.card = f"{rng.randint(1000, 9999)}"

    def amount(self, typical: float, sign: int, spread: float = 0.35) -> Decimal:
        value = max(0.5, self.rng.gauss(typical, typical * spread))
        return Decimal(f"{value:.2f}") * sign

    def add(self, day: dt.date, amount: Decimal, label: str, **fields: str | None) -> None:
        when = dt.datetime(day.year, day.month, day.day, tzinfo=BRUSSELS)
        tx = Transaction(
            id=f"hist-{len(self.items) + 1:06d}",
            amount=amount,
            currency="EUR",
            execution_date=when,
            counterpart_name=fields.get("counterpart_name"),
            counterpart_reference=fields.get("counterpart_reference"),
            remittance_information=fields.get("remittance_information"),
            description=fields.get("description"),
        )
        self.items.append(Booked(tx, label))

    def card_payment(
        self, day: dt.date, merchant: str, legal: str | None, town: str
    ) -> dict[str, str | None]:
        rng, shop = self.rng, rng_shop(self.rng)
        hhmm = f"{rng.randint(8, 21):02d}{rng.choice('.:h')}{rng.randint(0, 59):02d}"
        style = rng.randrange(3)
        if style == 0:
            text = (f"BETALING MET DEBETKAART NUMMER 6703 04XX XXXX {self.card} {merchant} {shop} "
                    f"{town} {day:%d/%m/%Y} OM {hhmm} UUR")  # fmt: skip
            return {"remittance_information": text, "description": "Betaling met debetkaart",
                    "counterpart_name": None}  # fmt: skip
        if style == 1:
            text = f"Bancontact {merchant} {town} {day:%d-%m} {hhmm} kaart ****{self.card}"
            name = legal if legal and rng.random() < 0.6 else None
            return {"remittance_information": text, "description": "Bancontact",
                    "counterpart_name": name}  # fmt: skip
        text = f"PAIEMENT MAESTRO {day:%d/%m} {hhmm} CARTE 6703XXXXXXXX{self.card}"
        name = f"{merchant} {town}" if rng.random() < 0.5 else None
        return {"remittance_information": text, "description": f"{merchant} {shop} {town}",
                "counterpart_name": name}  # fmt: skip


def rng_shop(rng: random.Random) -> str:
    """A shop number the way banks print them."""
    return rng.choice(
        [f"{rng.randint(1, 9999):04d}", f"{rng.randint(100, 999)}", f"N{rng.randint(10, 99)}"]
    )


def _fill(text: str, day: dt.date, rng: random.Random) -> str:
    return text.format(
        month=f"{MONTHS[day.month - 1]} {day.year}", mm=f"{day.month:02d}", yyyy=day.year,
        dd=f"{day.day:02d}", ref=rng.randint(10**6, 10**9),
    )  # fmt: skip


def household_history(
    *, seed: int = 1, first_year: int = 2022, years: int = 4, scale: float = 1.0
) -> list[Booked]:
    """Generate the history (see module doc).

    Args:
        seed: the random seed; the same seed gives the same history.
        first_year: the first calendar year.
        years: how many full years.
        scale: multiplies the number of shop visits (1.0 gives ~1,000 a year).

    Returns:
        The booked transactions, oldest first.
    """
    rng = random.Random(seed)
    make = _Maker(rng)
    restaurants = [f"{rng.choice(RESTAURANT_KINDS)} {name}" for name in RESTAURANT_NAMES[:6]]
    for year in range(first_year, first_year + years):
        # Each year the household tries new restaurants and keeps some old favourites.
        fresh = rng.sample(RESTAURANT_NAMES, 4)
        restaurants = restaurants[-6:] + [f"{rng.choice(RESTAURANT_KINDS)} {n}" for n in fresh]
        towns = rng.sample(TOWNS, 6)
        for month in range(1, 13):
            last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
            for names, legal, label, typical, visits in SHOPS:
                for _ in range(round(rng.gauss(visits * scale, 0.8 * scale))):
                    day = dt.date(year, month, rng.randint(1, last))
                    merchant = rng.choice(names)
                    booked = label
                    if merchant in ("CARREFOUR EXPRESS", "ACTION") and rng.random() < 0.3:
                        booked = (
                            "Expenses:Household" if "CARREFOUR" in merchant else "Expenses:Gifts"
                        )
                    fields = make.card_payment(day, merchant, legal, rng.choice(towns))
                    make.add(day, make.amount(typical, -1), booked, **fields)
            for _ in range(round(rng.gauss(3 * scale, scale))):
                day = dt.date(year, month, rng.randint(1, last))
                fields = make.card_payment(day, rng.choice(restaurants), None, rng.choice(towns))
                make.add(day, make.amount(38, -1, 0.6), "Expenses:Food:Restaurants", **fields)
            for names, iban, label, typical, sign, texts, dom, months in PAYEES:
                if months is not None and month not in months:
                    continue
                day = dt.date(year, month, max(1, min(dom + rng.randint(-2, 2), last)))
                spread = 0.02 if label.startswith(("Income:Salary", "Expenses:Housing")) else 0.2
                make.add(day, make.amount(typical, sign, spread), label,
                         counterpart_name=rng.choice(names), counterpart_reference=iban or None,
                         remittance_information=_fill(rng.choice(texts), day, rng),
                         description="Domiciliering" if sign < 0 else "Overschrijving")  # fmt: skip
            for names, iban in FRIENDS:
                if rng.random() < 0.5:
                    day = dt.date(year, month, rng.randint(1, last))
                    credit = rng.random() < 0.6
                    texts = ["terugbetaling etentje", "resto", "merci pour le resto"]
                    text = rng.choice(texts if credit else ["cadeau", "verjaardag", "bday gift"])
                    label = "Expenses:Food:Restaurants" if credit else "Expenses:Gifts"
                    make.add(day, make.amount(30, 1 if credit else -1, 0.5), label,
                             counterpart_name=rng.choice(names), counterpart_reference=iban,
                             remittance_information=text, description="Overschrijving")  # fmt: skip
    # The user is not perfectly consistent: a few bookings go to a neighbouring account.
    labels = sorted({b.label for b in make.items})
    result: list[Booked] = []
    for item in make.items:
        label = rng.choice(labels) if rng.random() < 0.02 else item.label
        result.append(Booked(item.transaction, label))
    result.sort(key=lambda b: (b.transaction.execution_date, b.transaction.id))
    return result
