"""The remaining bank fields are kept: details, the unstructured array, internalReference."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from beancount import loader
from beancount.core import data

from tests.conftest import bean_check

if TYPE_CHECKING:
    from tests.conftest import Workspace


def entry_of(ws: Workspace, ponto_id: str) -> data.Transaction:
    entries, _errors, _options = loader.load_file(str(ws.ledger))
    found = next(e for e in entries if getattr(e, "meta", {}).get("ponto_id") == ponto_id)
    assert isinstance(found, data.Transaction)
    return found


def add(ws: Workspace, remittance: str | None, **attributes: Any) -> str:
    return ws.sim.add_transaction(
        ws.sim.account_ids[0], "-9.99", remittance_information=remittance, **attributes
    )


def test_details_become_the_narration_when_the_communication_is_empty(ws: Workspace) -> None:
    lines = ["FACTURE 2026-114", "CLIENT 8812 <ACME>"]
    only_details = add(ws, None, details="Prlv SEPA Free Mobile\nRef 8812")
    only_array = add(ws, "", remittanceInformationUnstructuredArray=lines)
    ws.sync()
    assert bean_check(ws.ledger) == []
    entry = entry_of(ws, only_details)
    assert entry.narration == "Prlv SEPA Free Mobile | Ref 8812"
    assert entry.meta["description"] == "Wire transfer"  # the bank's label moves to metadata
    assert "details" not in entry.meta
    entry = entry_of(ws, only_array)
    assert entry.narration == "FACTURE 2026-114 | CLIENT 8812 \u2039ACME\u203a"
    assert "remittance_information_array" not in entry.meta


def test_details_go_to_metadata_beside_a_communication(ws: Workspace) -> None:
    both = add(
        ws,
        "Loyer mars",
        details=["Virement de M. Dupont", "Loyer mars"],
        remittanceInformationUnstructuredArray=["Loyer", "mars"],
    )
    ws.sync()
    assert bean_check(ws.ledger) == []
    entry = entry_of(ws, both)
    assert entry.narration == "Loyer mars"
    assert entry.meta["details"] == "Virement de M. Dupont | Loyer mars"
    assert entry.meta["remittance_information_array"] == "Loyer | mars"


def test_internal_reference_is_kept_as_metadata(ws: Workspace) -> None:
    tx = add(ws, "Ref", internalReference="FI-REF-0001")
    plain = add(ws, "Other")
    ws.sync()
    assert entry_of(ws, tx).meta["internal_reference"] == "FI-REF-0001"
    served = next(r for r in ws.sim.transactions(ws.sim.account_ids[0]) if r["id"] == plain)
    assert (
        entry_of(ws, plain).meta["internal_reference"]
        == (served["attributes"]["internalReference"])
    )
    assert bean_check(ws.ledger) == []
