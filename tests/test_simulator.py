"""Tests of the Ponto simulator, over real HTTP with requests."""

from __future__ import annotations

import datetime as dt
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
import requests

from beancount_ponto.simulator import Simulator

if TYPE_CHECKING:
    from collections.abc import Iterator

TODAY = dt.date(2024, 3, 2)
AUTH = ("demo-client-id", "demo-client-secret")  # the defaults
SYNC_IP = "203.0.113.7"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(today=TODAY) as s:
        yield s


def get_token(sim: Simulator) -> str:
    r = requests.post(
        f"{sim.url}/oauth2/token", auth=AUTH, data={"grant_type": "client_credentials"}
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


@pytest.fixture
def http(sim: Simulator) -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.headers["Authorization"] = f"Bearer {get_token(sim)}"
        yield s


def decimal_json(r: requests.Response) -> Any:
    return json.loads(r.text, parse_float=Decimal)


def all_transactions(http: requests.Session, url: str, limit: int = 100) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    next_url: str | None = f"{url}?page[limit]={limit}"
    while next_url:
        r = http.get(next_url)
        assert r.status_code == 200, r.text
        doc = decimal_json(r)
        out.extend(doc["data"])
        next_url = doc["links"].get("next")
    return out


def sync_body(account_id: str, subtype: str = "accountTransactions") -> dict[str, Any]:
    attributes = {
        "resourceType": "account",
        "resourceId": account_id,
        "subtype": subtype,
        "customerIpAddress": SYNC_IP,
    }
    return {"data": {"type": "synchronization", "attributes": attributes}}


def sort_key(resource: dict[str, Any]) -> tuple[str, str, str]:
    a = resource["attributes"]
    return (a["executionDate"], a["createdAt"], resource["id"])


# -- OAuth2 -------------------------------------------------------------------


def test_token_ok_with_grant_in_body(sim: Simulator) -> None:
    r = requests.post(
        f"{sim.url}/oauth2/token", auth=AUTH, data={"grant_type": "client_credentials"}
    )
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["ibanity-request-id"]
    body = r.json()
    assert body["expires_in"] == 1799 and body["scope"] == "ai" and body["token_type"] == "bearer"
    assert len(body["access_token"]) > 20
    assert (sim.client_id, sim.client_secret) == AUTH


def test_token_with_grant_in_query_and_prefix(sim: Simulator) -> None:
    r = requests.post(
        f"{sim.url}/ponto-connect/oauth2/token?grant_type=client_credentials", auth=AUTH
    )
    assert r.status_code == 200
    token = r.json()["access_token"]
    r = requests.get(
        f"{sim.url}/ponto-connect/accounts", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200
    assert r.json()["links"]["first"].startswith(f"{sim.url}/ponto-connect/accounts?")


def test_token_bad_credentials_and_grant(sim: Simulator) -> None:
    url = f"{sim.url}/oauth2/token"
    form = {"grant_type": "client_credentials"}
    for auth in [("demo-client-id", "wrong"), ("other", "demo-client-secret"), None]:
        r = requests.post(url, auth=auth, data=form)
        assert r.status_code == 401
        assert r.json() == {
            "error": "invalid_client",
            "error_description": "Client authentication failed",
        }
    r = requests.post(url, auth=AUTH, data={"grant_type": "password"})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    r = requests.post(url, headers={"Authorization": "Basic %%%not-base64"}, data=form)
    assert r.status_code == 401


def test_401_without_token_bad_token_and_after_expire(
    sim: Simulator, http: requests.Session
) -> None:
    r = requests.get(f"{sim.url}/accounts")
    assert r.status_code == 401
    error = r.json()["errors"][0]
    assert error["code"] == "invalidAccessToken"
    assert error["detail"] == "Your access token is invalid."
    assert error["meta"]["requestId"] == r.headers["ibanity-request-id"]
    r = requests.get(f"{sim.url}/accounts", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    assert http.get(f"{sim.url}/accounts").status_code == 200
    sim.expire_tokens()
    assert http.get(f"{sim.url}/accounts").status_code == 401
    http.headers["Authorization"] = f"Bearer {get_token(sim)}"
    assert http.get(f"{sim.url}/accounts").status_code == 200


def test_token_ttl() -> None:
    with Simulator(today=TODAY, token_ttl=1, transactions_per_account=3) as sim:
        token = get_token(sim)
        headers = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{sim.url}/accounts", headers=headers).status_code == 200
        time.sleep(1.1)
        assert requests.get(f"{sim.url}/accounts", headers=headers).status_code == 401


# -- discovery, institutions, accounts ------------------------------------------


def test_root_and_financial_institutions(sim: Simulator) -> None:
    root = requests.get(f"{sim.url}/").json()
    assert root["links"]["accounts"] == f"{sim.url}/accounts/{{accountId}}"
    assert root["links"]["oauth2"]["token"] == f"{sim.url}/oauth2/token"
    r = requests.get(f"{sim.url}/financial-institutions")  # public, no token
    assert r.status_code == 200
    fi = r.json()["data"][0]
    assert fi["id"] == sim.financial_institution_id
    attrs = fi["attributes"]
    assert attrs["name"] == "Demo Bank Belgium" and attrs["country"] == "BE"
    assert attrs["status"] == "stable" and attrs["timeZone"] == "Europe/Brussels"
    assert attrs["logoUrl"] is None and "maintenanceType" in attrs
    one = requests.get(f"{sim.url}/financial-institutions/{fi['id']}").json()["data"]
    assert one == fi
    assert requests.get(f"{sim.url}/financial-institutions/x").status_code == 404


ACCOUNT_ATTRIBUTES = {
    "reference",
    "referenceType",
    "subtype",
    "description",
    "product",
    "holderName",
    "currency",
    "currentBalance",
    "currentBalanceChangedAt",
    "currentBalanceReferenceDate",
    "currentBalanceVariationObservedAt",
    "availableBalance",
    "availableBalanceChangedAt",
    "availableBalanceReferenceDate",
    "availableBalanceVariationObservedAt",
    "authorizedAt",
    "authorizationExpirationExpectedAt",
    "deprecated",
    "internalReference",
}


def test_accounts(sim: Simulator, http: requests.Session) -> None:
    doc = http.get(f"{sim.url}/accounts").json()
    accounts = doc["data"]
    assert [a["id"] for a in accounts] == sim.account_ids
    checking, savings, usd = (a["attributes"] for a in accounts)
    for account in accounts:
        assert set(account["attributes"]) == ACCOUNT_ATTRIBUTES
        assert set(account["meta"]) == {"availability", "synchronizedAt", "latestSynchronization"}
        rel = account["relationships"]
        assert rel["financialInstitution"]["data"]["id"] == sim.financial_institution_id
        assert rel["transactions"]["links"]["meta"]["type"] == "transaction"
        attrs = account["attributes"]
        expires = dt.datetime.fromisoformat(attrs["authorizationExpirationExpectedAt"])
        authorized = dt.datetime.fromisoformat(attrs["authorizedAt"])
        assert expires - authorized == dt.timedelta(days=180)
    assert checking["currency"] == "EUR" and checking["description"] == "Zichtrekening"
    assert checking["reference"].startswith("BE") and checking["referenceType"] == "IBAN"
    assert savings["subtype"] == "savings" and savings["reference"] != checking["reference"]
    assert usd["currency"] == "USD" and usd["reference"] == checking["reference"]
    now = dt.datetime(2024, 3, 2, 11, tzinfo=dt.UTC)
    days = [
        (dt.datetime.fromisoformat(a["authorizationExpirationExpectedAt"]) - now).days
        for a in (checking, savings)
    ]
    assert days == [150, 20]
    one = http.get(f"{sim.url}/accounts/{sim.account_ids[0]}").json()["data"]
    assert one["id"] == sim.account_ids[0]
    r = http.get(f"{sim.url}/accounts/unknown")
    assert r.status_code == 404
    assert r.json()["errors"][0]["code"] == "resourceNotFound"
    assert r.json()["errors"][0]["meta"]["resource"] == "account"


# -- transactions and paging -------------------------------------------------------


def test_paging_follows_next_links(sim: Simulator, http: requests.Session) -> None:
    account = sim.account_ids[0]
    url = f"{sim.url}/accounts/{account}/transactions"
    seen: list[dict[str, Any]] = []
    next_url: str | None = f"{url}?page[limit]=7"
    pages = 0
    while next_url:
        doc = http.get(next_url).json()
        pages += 1
        assert doc["links"]["first"] == f"{url}?page[limit]=7"
        assert doc["meta"]["paging"]["limit"] == 7
        if doc["links"].get("next"):
            last = doc["data"][-1]["id"]
            assert doc["links"]["next"] == f"{url}?page[after]={last}&page[limit]=7"
            assert doc["meta"]["paging"]["after"] == last
        if pages > 1:
            assert "prev" in doc["links"]
        seen.extend(doc["data"])
        next_url = doc["links"].get("next")
    assert pages == 6
    ids = [t["id"] for t in seen]
    assert len(ids) == len(set(ids)) == 40
    assert ids == [t["id"] for t in sim.transactions(account)]
    assert seen == sorted(seen, key=sort_key, reverse=True)
    assert seen[0]["attributes"]["executionDate"] == "2024-03-01T23:00:00.000Z"


def test_page_before_and_legacy_params(sim: Simulator, http: requests.Session) -> None:
    account = sim.account_ids[0]
    url = f"{sim.url}/accounts/{account}/transactions"
    ids = [t["id"] for t in sim.transactions(account)]
    doc = http.get(url, params={"page[before]": ids[12], "page[limit]": 5}).json()
    assert [t["id"] for t in doc["data"]] == ids[7:12]
    assert doc["links"]["prev"] == f"{url}?page[before]={ids[7]}&page[limit]=5"
    doc = http.get(url, params={"page[before]": ids[3], "page[limit]": 5}).json()
    assert [t["id"] for t in doc["data"]] == ids[:3]
    assert "prev" not in doc["links"]
    doc = http.get(url, params={"limit": 5, "after": ids[4]}).json()
    assert [t["id"] for t in doc["data"]] == ids[5:10]
    doc = http.get(url, params={"limit": 4, "before": ids[10]}).json()
    assert [t["id"] for t in doc["data"]] == ids[6:10]
    doc = http.get(f"{url}?page[after]={ids[-1]}").json()
    assert doc["data"] == [] and "next" not in doc["links"]


def test_list_order_by_creation_puts_a_late_delivery_first(
    sim: Simulator, http: requests.Session
) -> None:
    account = sim.account_ids[0]
    url = f"{sim.url}/accounts/{account}/transactions"
    late = sim.add_transaction(account, "-5.00", execution_date=TODAY - dt.timedelta(days=10))
    future = sim.add_transaction(account, "-6.00", execution_date=TODAY + dt.timedelta(days=20))
    by_date = all_transactions(http, url)
    assert by_date[0]["id"] == future and by_date[0] == sorted(by_date, key=sort_key)[-1]
    assert [t["id"] for t in by_date].index(late) > 5
    r = requests.post(f"{sim.url}/_sim/options", json={"listOrder": "created"})
    assert r.status_code == 200 and r.json()["listOrder"] == "created"
    by_created = all_transactions(http, url, limit=7)
    assert [t["id"] for t in by_created[:2]] == [future, late]
    stamps = [(t["attributes"]["createdAt"], t["id"]) for t in by_created]
    assert stamps == sorted(stamps, reverse=True)
    # a future-dated booking is created now, not on its future day
    assert by_created[0]["attributes"]["createdAt"] < "2024-03-03"
    assert [t["id"] for t in by_created] == [t["id"] for t in sim.transactions(account)]
    bad = requests.post(f"{sim.url}/_sim/options", json={"listOrder": "amount"})
    assert bad.status_code == 400


def test_legacy_next_links_have_no_limit(sim: Simulator, http: requests.Session) -> None:
    account = sim.account_ids[0]
    url = f"{sim.url}/accounts/{account}/transactions"
    r = requests.post(f"{sim.url}/_sim/options", json={"legacyLinks": True})
    assert r.json()["legacyLinks"] is True
    doc = http.get(f"{url}?page[limit]=7").json()
    assert doc["links"]["next"] == f"{url}?after={doc['data'][-1]['id']}"
    second = http.get(doc["links"]["next"]).json()
    assert len(second["data"]) == 10  # Ponto's default page size
    assert second["links"]["prev"] == f"{url}?before={second['data'][0]['id']}"


def test_paging_errors(sim: Simulator, http: requests.Session) -> None:
    url = f"{sim.url}/accounts/{sim.account_ids[0]}/transactions"
    for params in (
        {"page[limit]": "0"},
        {"page[limit]": "abc"},
        {"page[after]": "nope"},
        {"page[before]": "nope"},
    ):
        r = http.get(url, params=params)
        assert r.status_code == 400, params
        assert r.json()["errors"][0]["code"] == "validationError"
    doc = http.get(url, params={"page[limit]": "500"}).json()
    assert doc["meta"]["paging"]["limit"] == 100 and len(doc["data"]) == 40


def test_single_and_pending_transactions(sim: Simulator, http: requests.Session) -> None:
    account = sim.account_ids[0]
    first = sim.transactions(account)[0]
    doc = http.get(f"{sim.url}/accounts/{account}/transactions/{first['id']}").json()
    assert doc["data"]["id"] == first["id"]
    assert doc["data"]["relationships"]["account"]["data"]["id"] == account
    assert http.get(f"{sim.url}/accounts/{account}/transactions/x").status_code == 404
    for acc in sim.account_ids:
        doc = http.get(f"{sim.url}/accounts/{acc}/pending-transactions").json()
        assert len(doc["data"]) <= 2
        assert all(t["type"] == "pendingTransaction" for t in doc["data"])
        assert "synchronizedAt" in doc["meta"]


NASTY_TEXTS = [
    'Café "Chez \\ Nous"',
    "Naam: Jansen<br>Omschrijving: Huur maart<br>IBAN: NL91ABNA0417164300",
    "<img src=x onerror=alert(1)>",
    "+++090/9337/55493+++",
]


def test_nasty_texts_survive_http(sim: Simulator, http: requests.Session) -> None:
    url = f"{sim.url}/accounts/{sim.account_ids[0]}/transactions?page[limit]=30"
    data = http.get(url).json()["data"]
    attrs = [t["attributes"] for t in data]
    texts = {a["counterpartName"] for a in attrs} | {a["remittanceInformation"] for a in attrs}
    for text in NASTY_TEXTS:
        assert text in texts
    assert any(t and "\n" in t for t in texts)
    assert any(t and len(t) == 3000 for t in texts)
    assert any(t and "\u200b" in t and "\u0301" in t and "\u0645" in t for t in texts)
    assert any(t and ";" in t and "#" in t and "^" in t and "!" in t for t in texts)
    assert any(a["remittanceInformationType"] == "structured" for a in attrs)
    assert any(
        a["cardReference"] == "1234" and a["cardReferenceType"] == "MASKEDPAN" for a in attrs
    )
    assert any(a["endToEndId"] for a in attrs)
    assert any(a["bankTransactionCode"] == "PMNT-ICDT-ESCT" for a in attrs)
    assert any(
        a["counterpartName"] is None and a["remittanceInformation"] is None and a["description"]
        for a in attrs
    )


def test_local_midnight_quirk_in_summer() -> None:
    with Simulator(today=dt.date(2024, 7, 2), transactions_per_account=5) as sim:
        newest = sim.transactions(sim.account_ids[0])[0]["attributes"]
        assert newest["executionDate"] == "2024-07-01T22:00:00.000Z"
        account = sim.account(sim.account_ids[0])["attributes"]
        assert account["currentBalanceReferenceDate"] == "2024-07-01T22:00:00.000Z"
    with Simulator(today=TODAY, time_zone="UTC", transactions_per_account=5) as sim:
        newest = sim.transactions(sim.account_ids[0])[0]["attributes"]
        assert newest["executionDate"] == "2024-03-02T00:00:00.000Z"


def test_amounts_are_exact_json_numbers_and_balance_invariant(
    sim: Simulator, http: requests.Session
) -> None:
    raw = http.get(f"{sim.url}/accounts/{sim.account_ids[0]}/transactions").json()
    assert all(isinstance(t["attributes"]["amount"], float | int) for t in raw["data"])
    sim.add_transaction(
        sim.account_ids[0], Decimal("-12.34"), counterpart_name="Test", endToEndId="E2E-TEST"
    )
    sim.add_transaction(sim.account_ids[1], "1000.01", execution_date=dt.date(2024, 2, 1))
    sim.queue_on_sync(sim.account_ids[2], 2)
    r = http.post(f"{sim.url}/synchronizations", json=sync_body(sim.account_ids[2]))
    sync_url = f"{sim.url}/synchronizations/{r.json()['data']['id']}"
    http.get(sync_url)
    assert http.get(sync_url).json()["data"]["attributes"]["status"] == "success"
    for account in sim.account_ids:
        txns = all_transactions(http, f"{sim.url}/accounts/{account}/transactions")
        total = sum((t["attributes"]["amount"] for t in txns), Decimal(0))
        attrs = decimal_json(http.get(f"{sim.url}/accounts/{account}"))["data"]["attributes"]
        assert attrs["currentBalance"] == attrs["availableBalance"] == total == sim.balance(account)
        newest = max(t["attributes"]["executionDate"] for t in txns)
        assert attrs["currentBalanceReferenceDate"] == newest
    first = sim.transactions(sim.account_ids[0])[0]["attributes"]
    assert first["amount"] == Decimal("-12.34") and first["endToEndId"] == "E2E-TEST"
    with pytest.raises(TypeError):
        sim.add_transaction(sim.account_ids[0], 1.5)  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        sim.add_transaction("nope", 1)


# -- faults ----------------------------------------------------------------------------


def test_fail_and_rate_limit(sim: Simulator, http: requests.Session) -> None:
    url = f"{sim.url}/accounts"
    sim.fail_next(2, status=500)
    for _ in range(2):
        r = http.get(url)
        assert r.status_code == 500 and r.json()["errors"][0]["code"]
    assert http.get(url).status_code == 200
    sim.rate_limit_next(1, retry_after=3)
    r = http.get(url)
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    assert http.get(url).status_code == 200
    sim.fail_next(1, path_contains="/transactions")
    assert http.get(url).status_code == 200
    r = http.get(f"{url}/{sim.account_ids[0]}/transactions")
    assert r.status_code == 503


def test_token_endpoint_is_faultable(sim: Simulator) -> None:
    sim.fail_next(1, path_contains="oauth2")
    r = requests.post(
        f"{sim.url}/oauth2/token", auth=AUTH, data={"grant_type": "client_credentials"}
    )
    assert r.status_code == 503
    assert get_token(sim)


def test_drop_garbage_and_slow(sim: Simulator, http: requests.Session) -> None:
    url = f"{sim.url}/accounts"
    sim.drop_next(1)
    with pytest.raises(requests.exceptions.ConnectionError):
        http.get(url)
    assert http.get(url).status_code == 200
    sim.garbage_next(1)
    r = http.get(url)
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    sim.slow_next(1, 0.6)
    with pytest.raises(requests.exceptions.Timeout):
        http.get(url, timeout=0.2)
    assert http.get(url, timeout=5).status_code == 200
    time.sleep(0.5)  # the slow request is logged when it completes
    statuses = [status for _, path, status in sim.request_log if path == "/accounts"]
    assert sorted(statuses) == [0, 200, 200, 200, 200]


def test_slow_request_does_not_block_others(sim: Simulator, http: requests.Session) -> None:
    sim.slow_next(1, 0.5, path_contains="/accounts")
    worker = threading.Thread(target=lambda: requests.get(f"{sim.url}/accounts", timeout=5))
    worker.start()
    time.sleep(0.05)
    started = time.monotonic()
    assert requests.get(f"{sim.url}/financial-institutions", timeout=5).status_code == 200
    assert time.monotonic() - started < 0.4
    worker.join()


def test_request_log_excludes_admin(sim: Simulator, http: requests.Session) -> None:
    sim.reset_log()
    http.get(f"{sim.url}/accounts?page[limit]=2")
    requests.get(f"{sim.url}/_sim/state")
    http.get(f"{sim.url}/nope")
    assert sim.request_log == [("GET", "/accounts?page[limit]=2", 200), ("GET", "/nope", 404)]


# -- synchronizations --------------------------------------------------------------------


def test_sync_flow_and_updated_transactions(sim: Simulator, http: requests.Session) -> None:
    account = sim.account_ids[0]
    before = sim.transactions(account)
    sim.queue_on_sync(account, 3)
    assert len(sim.transactions(account)) == 40
    r = http.post(
        f"{sim.url}/synchronizations",
        json=sync_body(account),
        headers={"Content-Type": "application/vnd.api+json"},
    )
    assert r.status_code == 201
    data = r.json()["data"]
    assert data["attributes"]["status"] == "pending" and data["attributes"]["errors"] == []
    assert {"createdAt", "updatedAt"} <= set(data["attributes"])
    url = f"{sim.url}/synchronizations/{data['id']}"
    assert http.get(url).json()["data"]["attributes"]["status"] == "running"
    done = http.get(url).json()["data"]
    assert done["attributes"]["status"] == "success"
    assert http.get(url).json()["data"]["attributes"]["status"] == "success"
    updated_url = done["relationships"]["updatedTransactions"]["links"]["related"]
    updated = http.get(updated_url).json()["data"]
    after = sim.transactions(account)
    assert len(after) == 43
    assert [t["id"] for t in updated] == [t["id"] for t in after[:3]]
    assert after[3:] == before
    assert all(t["attributes"]["executionDate"] == "2024-03-01T23:00:00.000Z" for t in updated)
    meta = http.get(f"{sim.url}/accounts/{account}").json()["data"]["meta"]
    assert meta["latestSynchronization"]["id"] == data["id"]
    assert meta["synchronizedAt"] == done["attributes"]["updatedAt"]
    assert http.get(f"{sim.url}/synchronizations/unknown").status_code == 404


def test_sync_validation(sim: Simulator, http: requests.Session) -> None:
    url = f"{sim.url}/synchronizations"
    body = sync_body(sim.account_ids[0])
    del body["data"]["attributes"]["customerIpAddress"]
    r = http.post(url, json=body)
    assert r.status_code == 400
    error = r.json()["errors"][0]
    assert error["code"] == "validationError"
    assert error["meta"]["attribute"] == "customerIpAddress"
    body = sync_body(sim.account_ids[0], subtype="everything")
    assert http.post(url, json=body).json()["errors"][0]["meta"]["attribute"] == "subtype"
    assert http.post(url, json=sync_body("unknown")).status_code == 404
    r = http.post(url, data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert http.post(url, json=[1, 2]).status_code == 400
    assert http.get(url).status_code == 405


def sync_to_end(sim: Simulator, http: requests.Session, account: str) -> dict[str, Any]:
    """Create a synchronization and poll it until it finishes; its attributes."""
    sync_id = http.post(f"{sim.url}/synchronizations", json=sync_body(account)).json()["data"]["id"]
    http.get(f"{sim.url}/synchronizations/{sync_id}")
    attributes: dict[str, Any] = http.get(f"{sim.url}/synchronizations/{sync_id}").json()["data"][
        "attributes"
    ]
    return attributes


def test_data_is_served_after_the_expected_consent_expiry(
    sim: Simulator, http: requests.Session
) -> None:
    account = sim.account_ids[1]
    sim.expire_consent(account)
    attrs = http.get(f"{sim.url}/accounts/{account}").json()["data"]["attributes"]
    expiry = dt.datetime.fromisoformat(attrs["authorizationExpirationExpectedAt"])
    assert expiry < dt.datetime(2024, 3, 2, 11, tzinfo=dt.UTC)
    for path in ("transactions", "pending-transactions"):
        assert http.get(f"{sim.url}/accounts/{account}/{path}").status_code == 200
    assert sync_to_end(sim, http, account)["status"] == "success"


def test_refuse_after_expiry_switch(sim: Simulator, http: requests.Session) -> None:
    account = sim.account_ids[1]
    sim.expire_consent(account)
    sim.set_refuse_after_expiry(True)
    for path in ("transactions", "pending-transactions"):
        r = http.get(f"{sim.url}/accounts/{account}/{path}")
        assert r.status_code == 403
        assert r.json()["errors"][0] == {
            "code": "authorizationInvalid",
            "detail": "The authorization is invalid, you should ask the customer to "
            "reauthorize the account",
            "meta": {"resource": "account"},
        }
    data = sync_to_end(sim, http, account)
    assert data["status"] == "error"
    assert data["errors"][0]["code"] == "authorizationInvalid"
    sim.set_consent_expiry(account, dt.datetime(2024, 9, 1))
    assert http.get(f"{sim.url}/accounts/{account}/transactions").status_code == 200
    with Simulator(today=TODAY, refuse_after_expiry=True) as strict:
        assert strict.state.summary()["refuseAfterExpiry"] is True


def test_revoked_consent_is_reported_in_latest_synchronization(
    sim: Simulator, http: requests.Session
) -> None:
    account, other = sim.account_ids[:2]
    sim.revoke_consent(account)
    listed = http.get(f"{sim.url}/accounts/{account}/transactions").json()["meta"]
    one = http.get(f"{sim.url}/accounts/{account}").json()["data"]["meta"]
    for meta in (listed, one):
        sync = meta["latestSynchronization"]["attributes"]
        assert sync["status"] == "error"
        assert sync["errors"][0]["code"] == "authorizationInvalid"
    assert http.get(f"{sim.url}/accounts/{account}/transactions").status_code == 200
    assert sync_to_end(sim, http, account)["errors"][0]["code"] == "authorizationInvalid"
    assert sync_to_end(sim, http, other)["status"] == "success"
    sim.revoke_consent(account, refuse_reads=True)
    assert http.get(f"{sim.url}/accounts/{account}/transactions").status_code == 403
    sim.reauthorize(account)
    meta = http.get(f"{sim.url}/accounts/{account}").json()["data"]["meta"]
    assert meta["latestSynchronization"]["attributes"]["status"] == "success"
    assert http.get(f"{sim.url}/accounts/{account}/transactions").status_code == 200


def test_synchronized_at_and_created_subtypes(sim: Simulator, http: requests.Session) -> None:
    account = sim.account_ids[0]
    sim.set_synchronized_at(account, dt.datetime(2024, 2, 28, 8, 0))
    meta = http.get(f"{sim.url}/accounts/{account}").json()["data"]["meta"]
    assert meta["synchronizedAt"] == "2024-02-28T08:00:00.000Z"
    body = sync_body(account, subtype="accountDetails")
    assert http.post(f"{sim.url}/synchronizations", json=body).status_code == 201
    assert http.post(f"{sim.url}/synchronizations", json=sync_body(account)).status_code == 201
    assert sim.synchronizations_created == [
        (account, "accountDetails"),
        (account, "accountTransactions"),
    ]
    created = requests.get(f"{sim.url}/_sim/state").json()["synchronizationsCreated"]
    assert created[0] == {"account": account, "subtype": "accountDetails"}


def test_bank_error_carries_the_banks_answer(sim: Simulator, http: requests.Session) -> None:
    sim.bank_error_next(1, path_contains="/transactions")
    r = http.get(f"{sim.url}/accounts/{sim.account_ids[0]}/transactions")
    assert r.status_code == 500
    error = r.json()["errors"][0]
    assert error["code"] == "invalidCredentials"
    assert error["meta"]["financialInstitutionResponse"]["statusCode"] == 401
    assert http.get(f"{sim.url}/accounts/{sim.account_ids[0]}/transactions").status_code == 200


def test_shift_clock_moves_consents_and_refresh_times_not_dates(sim: Simulator) -> None:
    account = sim.account_ids[0]
    before = sim.account(account)
    sim.shift_clock(dt.timedelta(days=3))
    after = sim.account(account)
    for key in ("authorizationExpirationExpectedAt", "authorizedAt"):
        moved = dt.datetime.fromisoformat(after["attributes"][key])
        assert moved - dt.datetime.fromisoformat(before["attributes"][key]) == dt.timedelta(days=3)
    assert (
        after["attributes"]["currentBalanceReferenceDate"]
        == (before["attributes"]["currentBalanceReferenceDate"])
    )
    assert sim.state.now() - dt.datetime.fromisoformat(before["meta"]["synchronizedAt"]) > (
        dt.timedelta(days=3)
    )


# -- admin, robustness, determinism ---------------------------------------------------------


def test_admin_endpoints(sim: Simulator, http: requests.Session) -> None:
    admin = f"{sim.url}/_sim"
    state = requests.get(f"{admin}/state").json()
    assert [a["id"] for a in state["accounts"]] == sim.account_ids
    assert state["accounts"][0]["transactions"] == 40
    account = sim.account_ids[0]
    r = requests.post(
        f"{admin}/transactions",
        json={
            "account": account,
            "amount": "12.34",
            "counterpartName": "Admin",
            "remittanceInformation": "via admin",
            "executionDate": "2024-03-02",
        },
    )
    assert r.status_code == 201
    assert sim.transactions(account)[0]["id"] == r.json()["id"]
    assert sim.transactions(account)[0]["attributes"]["amount"] == Decimal("12.34")
    r = requests.post(f"{admin}/faults", json={"kind": "fail", "count": 1, "status": 502})
    assert r.json()["pendingFaults"][0]["kind"] == "fail"
    assert http.get(f"{sim.url}/accounts").status_code == 502
    requests.post(f"{admin}/faults", json={"kind": "rate_limit", "retry_after": 7})
    assert http.get(f"{sim.url}/accounts").headers["Retry-After"] == "7"
    r = requests.post(f"{admin}/queue", json={"account": account, "count": 2})
    assert r.json() == {"account": account, "queued": 2}
    requests.post(f"{admin}/faults", json={"kind": "expire_consent", "account": account})
    assert http.get(f"{sim.url}/accounts/{account}/transactions").status_code == 200
    r = requests.post(f"{admin}/switches", json={"refuse_after_expiry": True})
    assert r.json()["refuseAfterExpiry"] is True
    assert http.get(f"{sim.url}/accounts/{account}/transactions").status_code == 403
    assert requests.post(f"{admin}/switches", json={"refuse_after_expiry": 1}).status_code == 400
    requests.post(f"{admin}/switches", json={"refuse_after_expiry": False})
    other = sim.account_ids[1]
    requests.post(f"{admin}/faults", json={"kind": "revoke_consent", "account": other})
    assert requests.get(f"{admin}/state").json()["accounts"][1]["consentRevoked"] is True
    meta = http.get(f"{sim.url}/accounts/{other}").json()["data"]["meta"]
    assert meta["latestSynchronization"]["attributes"]["status"] == "error"
    requests.post(f"{admin}/faults", json={"kind": "reauthorize", "account": other})
    assert requests.get(f"{admin}/state").json()["accounts"][1]["consentRevoked"] is False
    stale = {"kind": "synchronized_at", "account": other, "at": "2024-02-01T06:00:00Z"}
    requests.post(f"{admin}/faults", json=stale)
    meta = http.get(f"{sim.url}/accounts/{other}").json()["data"]["meta"]
    assert meta["synchronizedAt"] == "2024-02-01T06:00:00.000Z"
    bad_at = {"kind": "synchronized_at", "account": other, "at": "yesterday"}
    assert requests.post(f"{admin}/faults", json=bad_at).status_code == 400
    requests.post(f"{admin}/faults", json={"kind": "bank_error", "status": 500})
    assert http.get(f"{sim.url}/accounts").json()["errors"][0]["code"] == "invalidCredentials"
    requests.post(f"{admin}/faults", json={"kind": "expire_tokens"})
    assert http.get(f"{sim.url}/accounts").status_code == 401
    bad = [
        ({"account": "nope", "amount": "1"}, 404),
        ({"account": account, "amount": "x"}, 400),
        ({"account": account, "amount": 1, "executionDate": "2024-13-01"}, 400),
    ]
    for body, status in bad:
        assert requests.post(f"{admin}/transactions", json=body).status_code == status
    assert requests.post(f"{admin}/faults", json={"kind": "explode"}).status_code == 400
    assert requests.post(f"{admin}/faults", json={"kind": "fail", "count": -1}).status_code == 400
    assert requests.post(f"{admin}/queue", data=b"[").status_code == 400
    assert requests.get(f"{admin}/queue").status_code == 405
    assert requests.get(f"{admin}/nope").status_code == 404


def recv_all(conn: socket.socket) -> str:
    """Everything the server sends until it closes (one recv may hold only the headers)."""
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks).decode()


def test_robust_against_bad_requests(sim: Simulator, http: requests.Session) -> None:
    assert http.get(f"{sim.url}/nope/nope").json()["errors"][0]["code"] == "routeNotFound"
    r = http.delete(f"{sim.url}/accounts")
    assert r.status_code == 405 and r.json()["errors"]
    host, port = sim.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(b"BLAH\r\n\r\n")
        answer = recv_all(conn)
    assert answer.startswith("HTTP/1.1 400") and '"errors"' in answer
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(
            b"POST /synchronizations HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n"
        )
        assert recv_all(conn).startswith("HTTP/1.1 413")
    assert http.get(f"{sim.url}/accounts").status_code == 200


def test_determinism() -> None:
    a = Simulator(seed=7, today=TODAY, transactions_per_account=10)
    b = Simulator(seed=7, today=TODAY, transactions_per_account=10)
    c = Simulator(seed=8, today=TODAY, transactions_per_account=10)
    assert a.account_ids == b.account_ids != c.account_ids
    for x, y in zip(a.account_ids, b.account_ids, strict=True):
        assert a.transactions(x) == b.transactions(y)
        assert a.account(x) == b.account(y)
    assert a.transactions(a.account_ids[0]) != c.transactions(c.account_ids[0])
    big = Simulator(seed=7, today=TODAY, account_sizes=[10, 3])
    assert big.account_ids == a.account_ids[:2]
    assert big.transactions(big.account_ids[0]) == a.transactions(a.account_ids[0])
    assert a.add_transaction(a.account_ids[0], 1) == b.add_transaction(b.account_ids[0], 1)


def test_large_account_pages_quickly() -> None:
    with Simulator(today=TODAY, account_sizes=[20_000]) as sim, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {get_token(sim)}"
        account = sim.account_ids[0]
        deep = sim.state.accounts[account].txns.at(19_000).id
        started = time.monotonic()
        for _ in range(5):
            doc = http.get(
                f"{sim.url}/accounts/{account}/transactions",
                params={"page[after]": deep, "page[limit]": "100"},
            ).json()
        assert (time.monotonic() - started) / 5 < 0.25
        assert len(doc["data"]) == 100 and doc["links"]["next"]
        sim.add_transaction(account, "1.00")
        assert sim.state.accounts[account].txns.index_of(deep) == 19_001


def test_stop_closes_the_server() -> None:
    sim = Simulator(today=TODAY, transactions_per_account=2).start()
    url = sim.url
    with requests.Session() as http:
        assert http.get(f"{url}/financial-institutions").status_code == 200
        sim.stop()
        sim.stop()
        with pytest.raises(requests.exceptions.ConnectionError):
            http.get(f"{url}/financial-institutions", timeout=2)
    with pytest.raises(RuntimeError):
        _ = sim.url


def test_command_line() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "beancount_ponto.simulator",
            "--port",
            "0",
            "--seed",
            "3",
            "--transactions",
            "5",
            "--grow-every",
            "0.2",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("Ponto simulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        first = sum(a["transactions"] for a in requests.get(f"{url}/_sim/state").json()["accounts"])
        time.sleep(0.7)
        later = sum(a["transactions"] for a in requests.get(f"{url}/_sim/state").json()["accounts"])
        assert first >= 15 and later > first
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
