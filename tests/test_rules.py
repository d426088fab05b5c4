"""Booking rules: validation on load, every match kind, first match wins."""

from __future__ import annotations

import tomllib
from decimal import Decimal

import pytest
from beancount.core import account as bc_account

from beancount_ponto.errors import ConfigError
from beancount_ponto.rules import BankFields, Rule, first_match, parse_rules

BANK = "Assets:Bank:Checking"


def rules_from(toml: str) -> list[Rule]:
    raw = tomllib.loads(toml).get("rules")
    return parse_rules(raw, is_valid_account=bc_account.is_valid)


def fields(**kw: object) -> BankFields:
    base: dict[str, object] = {
        "linked_account": BANK,
        "amount": Decimal("-10.00"),
        "currency": "EUR",
    }
    base.update(kw)
    return BankFields(**base)  # type: ignore[arg-type]


def error_of(toml: str) -> str:
    with pytest.raises(ConfigError) as info:
        rules_from(toml)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_the_issue_example_matches_the_iban_without_spaces_and_in_any_case() -> None:
    rules = rules_from(
        '[[rules]]\ncounterpart_iban = "BE23 7326 8862 6491"\naccount = "Expenses:Rent"\n'
    )
    assert rules[0].counterpart_iban == "BE23732688626491"
    assert first_match(rules, fields(counterpart_iban="be23732688626491")) is rules[0]
    assert first_match(rules, fields(counterpart_iban=" BE23 7326 88626491 ")) is rules[0]
    assert first_match(rules, fields(counterpart_iban="BE23 7326 8862 6492")) is None
    assert first_match(rules, fields(counterpart_iban=None)) is None


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("counterpart_name", "AD Delhaize Uccle"),
        ("communication", "BETALING MET DEBETKAART 04XX DELHAIZE 1234 UCCLE"),
        ("description", "delhaize forest"),
    ],
)
def test_match_is_a_case_insensitive_search_in_name_communication_and_description(
    where: str, value: str
) -> None:
    rules = rules_from('[[rules]]\nmatch = "DELHAIZE"\naccount = "Expenses:Food:Groceries"\n')
    assert first_match(rules, fields(**{where: value})) is rules[0]
    assert first_match(rules, fields(counterpart_name="Colruyt", communication="x")) is None


def test_match_is_searched_in_each_field_on_its_own() -> None:
    rules = rules_from('[[rules]]\nmatch = "^colruyt"\naccount = "Expenses:Food:Groceries"\n')
    assert first_match(rules, fields(counterpart_name="Bob", communication="Colruyt Halle"))
    assert first_match(rules, fields(counterpart_name="Bob Colruyt")) is None


def test_sign_and_amount_range_on_the_absolute_amount() -> None:
    rules = rules_from(
        '[[rules]]\nmatch = "peeters"\nsign = "debit"\nmin_amount = 500\nmax_amount = "1000.00"\n'
        'account = "Expenses:Rent"\n'
        '[[rules]]\nmatch = "peeters"\nsign = "credit"\naccount = "Income:Refunds"\n'
    )
    rent, refund = rules
    assert rent.min_amount == Decimal(500) and rent.max_amount == Decimal("1000.00")
    assert first_match(rules, fields(counterpart_name="Peeters", amount=Decimal("-950"))) is rent
    assert first_match(rules, fields(counterpart_name="Peeters", amount=Decimal("-500"))) is rent
    assert first_match(rules, fields(counterpart_name="Peeters", amount=Decimal("-1000.00")))
    assert (
        first_match(rules, fields(counterpart_name="Peeters", amount=Decimal("-1000.01"))) is None
    )
    assert first_match(rules, fields(counterpart_name="Peeters", amount=Decimal("-499.99"))) is None
    assert first_match(rules, fields(counterpart_name="Peeters", amount=Decimal("20"))) is refund


def test_linked_account_and_all_conditions_together() -> None:
    rules = rules_from(
        '[[rules]]\ncounterpart_iban = "BE12 0012 3456 7890"\nmatch = "sparen"\n'
        'linked_account = "Assets:Bank:Checking"\naccount = "Assets:Bank:Savings"\n'
    )
    iban = "BE12001234567890"
    assert first_match(rules, fields(counterpart_iban=iban, communication="Sparen mei"))
    assert first_match(rules, fields(counterpart_iban=iban, communication="huur")) is None
    other = fields(
        counterpart_iban=iban, communication="sparen", linked_account="Assets:Bank:Other"
    )
    assert first_match(rules, other) is None


def test_first_matching_rule_wins_in_file_order() -> None:
    rules = rules_from(
        '[[rules]]\nmatch = "delhaize"\naccount = "Expenses:Food:Groceries"\n'
        '[[rules]]\nmatch = "del"\naccount = "Expenses:Other"\n'
    )
    assert first_match(rules, fields(counterpart_name="Delhaize")) is rules[0]
    assert first_match(rules, fields(counterpart_name="Delvaux")) is rules[1]
    assert [r.number for r in rules] == [1, 2]


def test_actions_are_kept() -> None:
    (rule,) = rules_from(
        '[[rules]]\nmatch = "netflix"\naccount = "Expenses:Streaming"\npayee = "Netflix"\n'
        'narration = "Monthly plan"\ntags = ["subscription", "#tv"]\nflag = "!"\n'
    )
    assert (rule.payee, rule.narration, rule.flag) == ("Netflix", "Monthly plan", "!")
    assert rule.tags == frozenset({"subscription", "tv"})


def test_no_rules_is_an_empty_list() -> None:
    assert rules_from("") == []


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[[rules]]\nmatch = "a"\naccount = "Expenses:A"\n'
            '[[rules]]\nmatch = "delh(aize"\naccount = "Expenses:Food"\n',
            "rules[2] (account Expenses:Food, match 'delh(aize'): match is not a valid regular",
        ),
        (
            '[[rules]]\nmatch = "x"\naccount = "expenses:food"\n',
            "rules[1] (account expenses:food, match 'x'): account 'expenses:food' is not a valid",
        ),
        (
            '[[rules]]\ncounterpart_ibna = "BE23"\naccount = "Expenses:Rent"\n',
            "rules[1] (account Expenses:Rent): unknown key 'counterpart_ibna'; "
            "did you mean 'counterpart_iban'?",
        ),
        ('[[rules]]\nmatch = "x"\n', "rules[1] (match 'x'): account is required"),
        ('[[rules]]\naccount = "Expenses:A"\n', "give counterpart_iban or match"),
        ('[[rules]]\nmatch = 3\naccount = "Expenses:A"\n', "match must be a non-empty string"),
        ('[[rules]]\nmatch = "x"\naccount = "Expenses:A"\nsign = "out"\n', 'sign must be "debit"'),
        (
            '[[rules]]\nmatch = "x"\naccount = "Expenses:A"\nmin_amount = 50\nmax_amount = 10\n',
            "min_amount 50 is greater than max_amount 10",
        ),
        ('[[rules]]\nmatch = "x"\naccount = "Expenses:A"\nmin_amount = -5\n', "number >= 0"),
        ('[[rules]]\nmatch = "x"\naccount = "Expenses:A"\nmax_amount = "lots"\n', "number >= 0"),
        ('[[rules]]\nmatch = "x"\naccount = "Expenses:A"\nmax_amount = true\n', "must be a number"),
        ('[[rules]]\nmatch = "x"\naccount = "Expenses:A"\ntags = "a"\n', "tags must be a list"),
        (
            '[[rules]]\nmatch = "x"\naccount = "Expenses:A"\ntags = ["a b"]\n',
            "is not a Beancount tag",
        ),
        ('[[rules]]\nmatch = "x"\naccount = "Expenses:A"\nflag = "?"\n', 'flag must be "*" or "!"'),
        (
            '[[rules]]\nmatch = "x"\naccount = "Expenses:A"\nlinked_account = "Bank"\n',
            "linked_account 'Bank' is not a valid Beancount account",
        ),
        ('rules = "x"\n', "rules must be an array of tables"),
        ("rules = [3]\n", "rules[1]: must be a table"),
    ],
)
def test_bad_rules_are_refused_on_load_with_a_message_naming_rule_and_problem(
    toml: str, expected: str
) -> None:
    assert expected in error_of(toml)


def test_an_account_check_that_raises_config_error_counts_as_invalid() -> None:
    def strict(name: str) -> bool:
        raise ConfigError(f"{name!r} is not allowed")

    with pytest.raises(ConfigError, match=r"rules\[1\].*not a valid Beancount account"):
        parse_rules([{"match": "x", "account": "Expenses:A"}], is_valid_account=strict)
