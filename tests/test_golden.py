"""Golden files: the first sync of the seeded simulator and the importer's extract.

As beangulp's regression tests do, the exact text is pinned in
``tests/golden/*.beancount``. A change of output fails here and shows the diff;
when the change is intended, rewrite the files with
``pytest tests/test_golden.py --update-golden`` and review them in the commit.

Volatile values (the temporary folder) are replaced with placeholders before
comparing, as fava's snapshot tests do. The README's example entry is checked
against the golden sync output, so the README cannot drift from what is written.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from beancount import loader

from beancount_ponto.convert import format_entries
from beancount_ponto.importer import PontoImporter
from tests.conftest import MAIN_LEDGER, Workspace, bean_check

GOLDEN = Path(__file__).parent / "golden"
README = Path(__file__).parent.parent / "README.md"

# The placeholder accounts an extract books to; the sync output opens them itself.
PLACEHOLDER_OPENS = """\
1970-01-01 open Expenses:Uncategorized
1970-01-01 open Income:Uncategorized
"""


def normalise(text: str, ws: Workspace) -> str:
    """``text`` with the workspace's temporary paths replaced by ``<tmp>``."""
    for root in {str(ws.root.parent), str(ws.root.parent.resolve())}:
        text = text.replace(root, "<tmp>")
    return text


def compare_golden(request: pytest.FixtureRequest, name: str, actual: str) -> None:
    """Compare ``actual`` with ``tests/golden/<name>``, or rewrite it under ``--update-golden``."""
    path = GOLDEN / name
    if request.config.getoption("--update-golden"):
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run pytest {__file__} --update-golden"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} changed: review, then rerun with --update-golden"


def check_in_ledger(tmp_path: Path, golden: str, *, opens: str = "") -> list[str]:
    """``bean-check`` messages for the golden file included by the test's main ledger."""
    main = tmp_path / "golden-check.beancount"
    include = f'include "{GOLDEN / golden}"\n'
    main.write_text(
        MAIN_LEDGER.replace('include "ponto.beancount"\n', opens + include), encoding="utf-8"
    )
    return bean_check(main)


def entries_of(text: str) -> list[str]:
    """The blank-line separated blocks of ``text``, without trailing blank lines."""
    return [block.strip("\n") for block in text.split("\n\n") if block.strip()]


def test_first_sync_matches_golden(
    ws: Workspace, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    result = ws.sync()
    assert result.ok, result
    compare_golden(request, "first_sync.beancount", normalise(ws.output_text(), ws))
    assert check_in_ledger(tmp_path, "first_sync.beancount") == []


def test_importer_extract_matches_golden(
    ws: Workspace, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    config = str(ws.root / "ponto.toml")
    ws.output.write_text("", encoding="utf-8")  # the main ledger includes it
    existing, errors, _options = loader.load_file(str(ws.ledger))
    assert errors == []
    extracted = PontoImporter(config).extract(config, existing)
    assert extracted
    compare_golden(request, "importer_extract.beancount", normalise(format_entries(extracted), ws))
    assert check_in_ledger(tmp_path, "importer_extract.beancount", opens=PLACEHOLDER_OPENS) == []


def test_golden_files_hold_no_temporary_path() -> None:
    for path in GOLDEN.glob("*.beancount"):
        text = path.read_text(encoding="utf-8")
        assert "/tmp" not in text and "pytest-" not in text, path


def readme_example() -> str:
    """The ``beancount`` block after "An entry looks like this" in the README."""
    text = README.read_text(encoding="utf-8")
    found = re.search(r"An entry looks like this.*?```beancount\n(.*?)```", text, re.DOTALL)
    assert found, "README.md lost its example entry"
    return found.group(1).strip("\n")


def test_readme_example_entry_is_a_golden_sync_entry() -> None:
    golden = entries_of((GOLDEN / "first_sync.beancount").read_text(encoding="utf-8"))
    assert readme_example() in golden
