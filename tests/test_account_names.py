"""One account-name check: Beancount's own, with the ledger's ``name_*`` options.

A ledger may name its roots in Dutch or French (``option "name_expenses"
"Uitgaven"``). Every account bean-ponto is told to post to (links, the
placeholders, the transit account, rules, own accounts) is checked against the
ledger's five roots, in the CLI, the config and the Fava page alike; the
placeholders' defaults follow the ledger's roots.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from beancount_ponto.config import load_config
from beancount_ponto.errors import ConfigError
from tests.conftest import bean_check, make_workspace

if TYPE_CHECKING:
    from pathlib import Path

    from beancount_ponto.simulator import Simulator

DUTCH_OPTIONS = """\
option "name_assets" "Activa"
option "name_liabilities" "Passiva"
option "name_equity" "Eigen-Vermogen"
option "name_income" "Opbrengsten"
option "name_expenses" "Uitgaven"
"""


def dutch_workspace(tmp_path: Path, sim: Simulator) -> Path:
    """A Dutch-rooted ledger whose checking account is linked to ``Activa:Bank:Zicht``."""
    ws = make_workspace(tmp_path / "nl", sim, accounts=1)
    ws.ledger.write_text(
        DUTCH_OPTIONS + '2000-01-01 open Activa:Bank:Zicht\ninclude "ponto.beancount"\n',
        encoding="utf-8",
    )
    toml = ws.root / "ponto.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace("Assets:Bank:Checking", "Activa:Bank:Zicht"),
        encoding="utf-8",
    )
    return ws.ledger


def test_a_dutch_ledger_gets_placeholders_under_its_own_roots(
    tmp_path: Path, sim: Simulator
) -> None:
    from beancount_ponto.cli.main import main

    ledger = dutch_workspace(tmp_path, sim)
    config = load_config(ledger.parent / "ponto.toml")
    assert config.counter_account == "Uitgaven:Uncategorized"
    assert config.income_account == "Opbrengsten:Uncategorized"
    assert config.transfer_account == "Activa:Transfers"
    assert main(["--config", str(ledger.parent / "ponto.toml"), "sync"]) == 0
    assert bean_check(ledger) == []
    text = (ledger.parent / "ponto.beancount").read_text(encoding="utf-8")
    assert "Uitgaven:Uncategorized" in text
    assert "Expenses:" not in text


def test_an_account_outside_the_ledgers_roots_is_one_line_and_nothing_is_written(
    tmp_path: Path, sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    from beancount_ponto.cli.main import main

    ws = make_workspace(tmp_path / "typo", sim, accounts=1)
    toml = ws.root / "ponto.toml"
    toml.write_text(
        'counter_account = "Expense:Uncategorized"\n' + toml.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    assert main(["--config", str(toml), "sync"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "counter_account" in err[0]
    assert "Expense:Uncategorized" in err[0]
    assert "Assets, Liabilities, Equity, Income, Expenses" in err[0]
    assert not ws.output.exists() or "ponto_id" not in ws.output_text()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("counter_account", "Expenses:Bad Name"),
        ("income_account", "Inkomsten:Salaris"),
        ("transfer_account", "Transfers"),
    ],
)
def test_each_placeholder_is_checked_against_the_roots(
    tmp_path: Path, sim: Simulator, key: str, value: str
) -> None:
    ws = make_workspace(tmp_path / key, sim, accounts=1)
    toml = ws.root / "ponto.toml"
    toml.write_text(f'{key} = "{value}"\n' + toml.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ConfigError, match=key):
        load_config(toml)


def test_rules_and_own_accounts_use_the_same_check(tmp_path: Path, sim: Simulator) -> None:
    ledger = dutch_workspace(tmp_path, sim)
    toml = ledger.parent / "ponto.toml"
    base = toml.read_text(encoding="utf-8")
    toml.write_text(
        base + '\n[[rules]]\nmatch = "huur"\naccount = "Expenses:Rent"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="Expenses:Rent"):
        load_config(toml)
    toml.write_text(
        base.replace(
            "[accounts.", '[own_accounts]\n"BE71096123456769" = "Assets:Other"\n\n[accounts.', 1
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="Assets:Other"):
        load_config(toml)
    toml.write_text(
        base + '\n[[rules]]\nmatch = "huur"\naccount = "Uitgaven:Huur"\n', encoding="utf-8"
    )
    assert load_config(toml).rules[0].account == "Uitgaven:Huur"


def test_check_account_names_the_roots_it_accepts(tmp_path: Path) -> None:
    from beancount_ponto.ledger_options import account_types, check_account

    ledger = tmp_path / "main.beancount"
    ledger.write_text(DUTCH_OPTIONS, encoding="utf-8")
    types = account_types(ledger)
    assert types.expenses == "Uitgaven"
    assert check_account("Uitgaven:Boodschappen", types, what="x") == "Uitgaven:Boodschappen"
    with pytest.raises(ConfigError) as raised:
        check_account("Expenses:Food", types, what="counter_account")
    assert "Activa, Passiva, Eigen-Vermogen, Opbrengsten, Uitgaven" in str(raised.value)
    with pytest.raises(ConfigError, match="under Activa: or Passiva:"):
        check_account("Uitgaven:Food", types, what="link", roots=(types.assets, types.liabilities))
    assert account_types(None).assets == "Assets"
    assert account_types(tmp_path / "missing.beancount").expenses == "Expenses"


def test_a_file_written_before_the_roots_were_renamed_gets_the_options_once(
    tmp_path: Path, sim: Simulator
) -> None:
    from beancount_ponto.cli.main import main

    ledger = dutch_workspace(tmp_path, sim)
    toml = str(ledger.parent / "ponto.toml")
    output = ledger.parent / "ponto.beancount"
    assert main(["--config", toml, "sync"]) == 0
    text = output.read_text(encoding="utf-8")
    assert text.count('option "name_expenses" "Uitgaven"') == 1
    # As an older bean-ponto wrote it: no options (bean-check fails on it).
    output.write_text(
        "".join(line for line in text.splitlines(keepends=True) if not line.startswith("option")),
        encoding="utf-8",
    )
    assert bean_check(ledger) != []
    sim.add_transaction(sim.account_ids[0], amount="-12.30", counterpart_name="Bakkerij")
    assert main(["--config", toml, "sync"]) == 0
    assert main(["--config", toml, "sync"]) == 0
    again = output.read_text(encoding="utf-8")
    assert again.count('option "name_expenses" "Uitgaven"') == 1
    assert again.count("ponto_id:") == text.count("ponto_id:") + 1
    assert bean_check(ledger) == []
