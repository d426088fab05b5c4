"""Deterministic generation of the simulator's accounts and transactions.

Contract:

* :func:`build_accounts` returns the same accounts, ids and transactions for the
  same ``seed``, ``today``, ``now`` and sizes. Each account draws from its own
  ``random.Random`` (returned alongside), so resizing one account does not change
  another's data; the state keeps using that generator for queued/grown items.
* Default accounts: (1) EUR checking "Zichtrekening", consent expiring in 150
  days, whose newest transactions include every :data:`~.catalog.NASTY` text;
  (2) EUR savings, consent in 20 days; (3) USD account sharing account 1's IBAN.
  Further sizes add EUR checking accounts (consent in 90 days).
* Transactions are spread over the 60 days before ``today`` (longer for
  histories of more than 480), the newest dated
  ``today``; ``createdAt`` lies after the execution date and before the initial
  synchronization. Balance = sum of the transactions (each account starts at 0).
* 100,000 transactions for one account take about a second.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from beancount_ponto.simulator.catalog import (
    CODES,
    DESCRIPTIONS,
    MONTHS,
    NASTY,
    PROFILES,
    belgian_bban,
    iban,
    ogm,
)
from beancount_ponto.simulator.jsonutil import local_midnight, truncate_ms
from beancount_ponto.simulator.records import AccountRec, SyncRec, Txn, TxnList

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

SPREAD_DAYS = 60
MAX_PER_DAY = 8
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)
HOLDER = "Jan Peeters"


def new_id(rng: random.Random) -> str:
    """Return a UUID4 string drawn from ``rng`` (same as ``uuid.UUID(int=..., version=4)``)."""
    bits = (rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _randint(rng: random.Random, low: int, high: int) -> int:
    """A fast deterministic integer in ``[low, high]`` (``randint`` is slow)."""
    return low + int(rng.random() * (high - low + 1))


_MIDNIGHTS: dict[tuple[dt.date, str], dt.datetime] = {}


def _midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    key = (day, zone.key)
    found = _MIDNIGHTS.get(key)
    if found is None:
        if len(_MIDNIGHTS) > 10_000:
            _MIDNIGHTS.clear()
        found = _MIDNIGHTS[key] = local_midnight(day, zone)
    return found


def _created_at(
    rng: random.Random, day: dt.date, zone: ZoneInfo, ceiling: dt.datetime
) -> dt.datetime:
    """A creation time after ``day``'s local midnight and, if possible, before ``ceiling``."""
    midnight = _midnight(day, zone)
    created = midnight + dt.timedelta(milliseconds=_randint(rng, 3_600_000, 39_600_000))
    if created >= ceiling:
        if ceiling > midnight:
            created = midnight + (ceiling - midnight) * rng.uniform(0.1, 0.9)
        else:
            created = midnight + dt.timedelta(seconds=1)
    return truncate_ms(created)


def _amount(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(_randint(rng, low, high)).scaleb(-2)


def make_txn(
    rng: random.Random,
    profile: str,
    currency: str,
    day: dt.date,
    created_at: dt.datetime,
) -> Txn:
    """Generate one realistic transaction booked on ``day``.

    Args:
        rng: the account's generator.
        profile: ``checking``, ``savings`` or ``foreign`` (see ``catalog.PROFILES``).
        currency: the account currency.
        day: execution (booking) date.
        created_at: when "Ponto" created the record.
    """
    choices = PROFILES[profile]
    cp = choices[int(rng.random() * len(choices))]
    amount = _amount(rng, cp.low, cp.high)
    if cp.kind == "transfer" and cp.name == "Pieter De Smet":
        outgoing = rng.random() < 0.5
    else:
        outgoing = cp.kind in ("card", "debit", "transfer")
    if outgoing:
        amount = -amount
    n = _randint(rng, 1000, 999_999)
    template = cp.texts[int(rng.random() * len(cp.texts))]
    extra: dict[str, Any] = {
        "description": DESCRIPTIONS[cp.kind],
        "counterpartName": cp.name,
        "bankTransactionCode": CODES[cp.kind],
    }
    if template == "ogm":
        extra["remittanceInformation"] = ogm(_randint(rng, 1, 9_999_999_999))
        extra["remittanceInformationType"] = "structured"
    else:
        extra["remittanceInformation"] = template.format(
            n=n, month=MONTHS[day.month - 1], year=day.year
        )
    if cp.reference:
        extra["counterpartReference"] = cp.reference
    if cp.kind == "card":
        extra["cardReference"] = f"{_randint(rng, 0, 9999):04d}"
        extra["cardReferenceType"] = "MASKEDPAN"
        stamp = f"{day.day:02d}/{day.month:02d} {n % 24:02d}:{n % 60:02d}"
        extra["remittanceInformation"] = f"{cp.name} {stamp}"
    elif cp.kind == "debit":
        extra["mandateId"] = f"MD{n:08d}"
        extra["creditorId"] = f"BE{n % 97:02d}ZZZ0{n:09d}"
    if rng.random() < 0.2:
        extra["endToEndId"] = f"E2E{n:010d}"
    if rng.random() < 0.3:
        extra["proprietaryBankTransactionCode"] = f"{_randint(rng, 1, 99_999):05d}"
    value_day = day
    roll = rng.random()
    if roll < 0.1:
        value_day = day - dt.timedelta(days=_randint(rng, 1, 2))
    elif roll < 0.15:
        value_day = day + dt.timedelta(days=_randint(rng, 1, 2))
    return Txn(
        id=new_id(rng),
        amount=amount,
        currency=currency,
        execution_date=day,
        value_date=value_day,
        created_at=created_at,
        updated_at=created_at + dt.timedelta(milliseconds=_randint(rng, 0, 900)),
        extra=extra,
    )


def _nasty_txn(
    rng: random.Random, index: int, currency: str, day: dt.date, created_at: dt.datetime
) -> Txn:
    spec = NASTY[index]
    extra: dict[str, Any] = {"description": spec.description, **spec.attributes}
    return Txn(
        id=new_id(rng),
        amount=spec.amount,
        currency=currency,
        execution_date=day,
        value_date=day,
        created_at=created_at,
        updated_at=created_at,
        extra=extra,
    )


def generate_txns(
    rng: random.Random,
    count: int,
    *,
    profile: str,
    currency: str,
    today: dt.date,
    zone: ZoneInfo,
    ceiling: dt.datetime,
    nasty: bool = False,
) -> list[Txn]:
    """Generate ``count`` transactions over the days before ``today``.

    They span ``SPREAD_DAYS`` days, or more for long histories so that an
    account has about ``MAX_PER_DAY`` transactions a day at most.

    The first one is dated ``today``; with ``nasty`` the first ``len(NASTY)`` are
    the hostile texts, dated within the last week.
    """
    out: list[Txn] = []
    # Long histories keep a realistic density (a busy household or small
    # business) instead of cramming everything into SPREAD_DAYS.
    spread = max(SPREAD_DAYS, -(-count // MAX_PER_DAY))
    nasty_count = min(count, len(NASTY)) if nasty else 0
    for i in range(count):
        if i == 0:
            offset = 0
        elif i < nasty_count:
            offset = i // 2
        else:
            offset = _randint(rng, 0, spread - 1)
        day = today - dt.timedelta(days=offset)
        created = _created_at(rng, day, zone, ceiling)
        if i < nasty_count:
            out.append(_nasty_txn(rng, i, currency, day, created))
        else:
            out.append(make_txn(rng, profile, currency, day, created))
    return out


def _pending(
    rng: random.Random,
    profile: str,
    currency: str,
    *,
    today: dt.date,
    zone: ZoneInfo,
    ceiling: dt.datetime,
) -> list[Txn]:
    out = []
    for _ in range(_randint(rng, 0, 2)):
        txn = make_txn(rng, profile, currency, today, _created_at(rng, today, zone, ceiling))
        txn.extra["description"] = "Card payment (pending)"
        out.append(txn)
    return out


_LAYOUT: tuple[tuple[str, str, str, str, str, int], ...] = (
    # (profile, currency, subtype, description, product, consent days)
    ("checking", "EUR", "checking", "Zichtrekening", "Zichtrekening", 150),
    ("savings", "EUR", "savings", "Spaarrekening", "Spaarrekening", 20),
    ("foreign", "USD", "checking", "Zichtrekening USD", "Vreemde munt", 150),
)


def _layout(index: int) -> tuple[str, str, str, str, str, int]:
    if index < len(_LAYOUT):
        return _LAYOUT[index]
    return ("checking", "EUR", "checking", f"Rekening {index + 1}", "Zichtrekening", 90)


def build_accounts(
    seed: int,
    sizes: list[int],
    today: dt.date,
    zone: ZoneInfo,
    now: dt.datetime,
) -> list[tuple[AccountRec, random.Random]]:
    """Generate the accounts with their transactions.

    Args:
        seed: the seed of everything.
        sizes: number of booked transactions per account (one account per entry).
        today: the newest execution date.
        zone: the bank's time zone.
        now: the simulated current time (creation times stay before it).

    Returns:
        ``(account, its generator)`` pairs in the fixed account order.
    """
    meta_rng = random.Random(f"ponto-sim:{seed}:accounts")
    synced_at = truncate_ms(now - dt.timedelta(hours=1))
    first_iban = ""
    result: list[tuple[AccountRec, random.Random]] = []
    for index, size in enumerate(sizes):
        profile, currency, subtype, description, product, days = _layout(index)
        account_id = new_id(meta_rng)
        reference = iban("BE", belgian_bban(_randint(meta_rng, 10**9, 10**10 - 1)))
        if index == 0:
            first_iban = reference
        elif profile == "foreign":
            reference = first_iban
        expires = truncate_ms(now + dt.timedelta(days=days))
        rng = random.Random(f"ponto-sim:{seed}:{index}")
        txns = generate_txns(
            rng,
            size,
            profile=profile,
            currency=currency,
            today=today,
            zone=zone,
            ceiling=synced_at,
            nasty=index == 0,
        )
        pending = _pending(rng, profile, currency, today=today, zone=zone, ceiling=synced_at)
        balance = sum((t.amount for t in txns), Decimal("0.00"))
        changed = max((t.created_at for t in txns), default=synced_at)
        sync = SyncRec(
            id=new_id(meta_rng),
            account_id=account_id,
            subtype="accountTransactions",
            customer_ip="",
            created_at=synced_at - dt.timedelta(seconds=20),
            updated_at=synced_at,
            status="success",
        )
        account = AccountRec(
            id=account_id,
            reference=reference,
            currency=currency,
            subtype=subtype,
            description=description,
            product=product,
            holder_name=HOLDER,
            internal_reference=new_id(meta_rng),
            authorized_at=expires - dt.timedelta(days=180),
            expires_at=expires,
            txns=TxnList(txns),
            pending=TxnList(pending),
            balance=balance,
            balance_changed_at=changed,
            synchronized_at=synced_at,
            latest_sync=sync,
        )
        result.append((account, rng))
    return result
