"""PontoClient against the simulator over real HTTP: tokens, paging, retries, errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from beancount_ponto.errors import (
    BadCredentialsError,
    ConsentExpiredError,
    MalformedResponseError,
    NotFoundError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    TransportError,
)
from beancount_ponto.ponto.client import PontoClient, _has_limit
from beancount_ponto.simulator import Simulator
from tests.conftest import no_sleep


def token_calls(sim: Simulator) -> int:
    return sum(1 for _m, path, _s in sim.request_log if path.startswith("/oauth2/token"))


def test_token_is_cached_across_requests(sim: Simulator, client: PontoClient) -> None:
    client.accounts()
    client.accounts()
    assert token_calls(sim) == 1


def test_token_renewed_once_on_401(sim: Simulator, client: PontoClient) -> None:
    client.accounts()
    sim.expire_tokens()
    accounts = client.accounts()
    assert len(accounts) == 3
    assert token_calls(sim) == 2


def test_token_renewed_before_expiry() -> None:
    with Simulator(token_ttl=30) as sim:
        c = PontoClient(sim.client_id, sim.client_secret, base_url=sim.url)
        c.accounts()
        c.accounts()
        # a token valid for less than the one-minute margin is renewed each time
        assert token_calls(sim) == 2


def test_bad_credentials_error_has_no_secret(sim: Simulator) -> None:
    secret = "s3cr3t-value-never-shown"
    c = PontoClient(sim.client_id, secret, base_url=sim.url, sleep=no_sleep)
    with pytest.raises(BadCredentialsError) as info:
        c.accounts()
    assert secret not in str(info.value)
    assert secret not in repr(c)
    assert "Client ID or Client Secret" in str(info.value)


def test_accounts_are_typed_with_decimal_money(sim: Simulator, client: PontoClient) -> None:
    accounts = client.accounts()
    assert [a.id for a in accounts] == sim.account_ids
    first = accounts[0]
    assert isinstance(first.current_balance, Decimal)
    assert first.current_balance == sim.balance(first.id)
    assert first.consent_expires_at is not None
    assert first.consent_expires_at.tzinfo is not None
    assert first.financial_institution_id == sim.financial_institution_id
    assert accounts[0].reference == accounts[2].reference
    assert {accounts[0].currency, accounts[2].currency} == {"EUR", "USD"}


def test_paging_over_several_pages() -> None:
    with Simulator(account_sizes=[250, 3, 3]) as sim:
        c = PontoClient(sim.client_id, sim.client_secret, base_url=sim.url)
        account = sim.account_ids[0]
        got = list(c.transactions(account))
        pages = [p for _m, p, _s in sim.request_log if f"/accounts/{account}/transactions" in p]
    assert len(pages) == 3
    assert [t.id for t in got] == [r["id"] for r in sim.transactions(account)]
    assert len({t.id for t in got}) == 250
    assert all(isinstance(t.amount, Decimal) for t in got)
    dates = [t.execution_date for t in got]
    assert dates == sorted(dates, reverse=True)


def test_old_style_next_links_keep_pages_of_100() -> None:
    """A ``?after=<id>`` link has no limit: followed verbatim, pages shrink to 10."""
    with Simulator(account_sizes=[250, 3, 3], legacy_links=True) as sim:
        c = PontoClient(sim.client_id, sim.client_secret, base_url=sim.url)
        account = sim.account_ids[0]
        got = list(c.transactions(account))
        pages = [p for _m, p, _s in sim.request_log if f"/accounts/{account}/transactions" in p]
    assert "?after=" in pages[1]
    assert len(pages) == 3
    assert all("limit]=100" in p for p in pages)
    assert [t.id for t in got] == [r["id"] for r in sim.transactions(account)]


def test_a_next_link_that_says_its_limit_is_followed_verbatim() -> None:
    assert _has_limit("https://h/accounts/x/transactions?after=1&limit=15")
    assert _has_limit("https://h/accounts/x/transactions?page[after]=1&page[limit]=5")
    assert _has_limit("https://h/accounts/x/transactions?page%5Blimit%5D=5")
    assert not _has_limit("https://h/accounts/x/transactions?after=1")


def test_survives_three_server_errors_in_a_row(sim: Simulator, client: PontoClient) -> None:
    sim.fail_next(3, status=503, path_contains="/accounts")
    assert len(client.accounts()) == 3


def test_server_error_after_bounded_attempts(sim: Simulator) -> None:
    waits: list[float] = []
    c = PontoClient(
        sim.client_id, sim.client_secret, base_url=sim.url, sleep=waits.append, max_attempts=4
    )
    sim.fail_next(10, status=502, path_contains="/accounts")
    with pytest.raises(ServerError) as info:
        c.accounts()
    assert info.value.status == 502
    assert waits == [0.5, 1.0, 2.0]


def test_rate_limit_honours_retry_after(sim: Simulator) -> None:
    waits: list[float] = []
    c = PontoClient(sim.client_id, sim.client_secret, base_url=sim.url, sleep=waits.append)
    sim.rate_limit_next(2, retry_after=3, path_contains="/accounts")
    assert len(c.accounts()) == 3
    assert waits == [3.0, 3.0]


def test_rate_limit_longer_than_budget_raises(sim: Simulator) -> None:
    c = PontoClient(
        sim.client_id, sim.client_secret, base_url=sim.url, sleep=no_sleep, max_retry_seconds=5
    )
    sim.rate_limit_next(1, retry_after=60, path_contains="/accounts")
    with pytest.raises(RateLimitError) as info:
        c.accounts()
    assert info.value.retry_after == 60


def test_dropped_connections_are_retried(sim: Simulator, client: PontoClient) -> None:
    sim.drop_next(3, path_contains="/accounts")
    assert len(client.accounts()) == 3


def test_dropped_connection_every_time_is_a_transport_error(sim: Simulator) -> None:
    c = PontoClient(sim.client_id, sim.client_secret, base_url=sim.url, sleep=no_sleep)
    sim.drop_next(10, path_contains="/accounts")
    with pytest.raises(TransportError):
        c.accounts()


def test_unreachable_host_is_a_transport_error() -> None:
    with Simulator() as sim:
        url = sim.url
    c = PontoClient("id", "secret", base_url=url, sleep=no_sleep, max_attempts=2)
    with pytest.raises(TransportError) as info:
        c.accounts()
    assert "cannot reach Ponto" in str(info.value)


def test_garbage_body_retried_then_malformed(sim: Simulator) -> None:
    c = PontoClient(sim.client_id, sim.client_secret, base_url=sim.url, sleep=no_sleep)
    sim.garbage_next(2, path_contains="/accounts")
    assert len(c.accounts()) == 3
    sim.garbage_next(10, path_contains="/accounts")
    with pytest.raises(MalformedResponseError):
        c.accounts()


def test_slow_answer_times_out(sim: Simulator) -> None:
    c = PontoClient(
        sim.client_id,
        sim.client_secret,
        base_url=sim.url,
        sleep=no_sleep,
        timeout=0.3,
        max_attempts=2,
    )
    c.authenticate()
    sim.slow_next(5, 2.0, path_contains="/accounts")
    with pytest.raises(RequestTimeoutError):
        c.accounts()


def test_not_found(client: PontoClient) -> None:
    with pytest.raises(NotFoundError) as info:
        client.account("00000000-0000-4000-8000-000000000000")
    assert info.value.status == 404
    assert info.value.code == "resourceNotFound"


def test_expired_consent_is_typed(sim: Simulator, client: PontoClient) -> None:
    account = sim.account_ids[1]
    sim.set_refuse_after_expiry(True)
    sim.expire_consent(account)
    with pytest.raises(ConsentExpiredError) as info:
        list(client.transactions(account))
    assert "reauthorize" in str(info.value)


def test_financial_institution_time_zone(sim: Simulator, client: PontoClient) -> None:
    bank = client.financial_institution(sim.financial_institution_id)
    assert bank.time_zone == "Europe/Brussels"
    assert bank.name


def test_synchronization_runs_to_success(sim: Simulator, client: PontoClient) -> None:
    account = sim.account_ids[0]
    sim.queue_on_sync(account, 2)
    before = len(sim.transactions(account))
    sync = client.create_synchronization(account, "203.0.113.7")
    assert sync.status == "pending"
    seen: list[str] = []
    done = client.wait_for_synchronization(
        sync.id, interval=0, on_progress=lambda s: seen.append(s.status)
    )
    assert done.status == "success"
    assert seen == ["running", "success"]
    assert len(sim.transactions(account)) == before + 2


def test_pending_transactions(sim: Simulator, client: PontoClient) -> None:
    for account in sim.account_ids:
        pending = list(client.pending_transactions(account))
        assert [p.id for p in pending] == [r["id"] for r in sim.pending_transactions(account)]


def test_links_to_another_site_are_not_followed(sim: Simulator, client: PontoClient) -> None:
    """The bearer token must never travel to another host (or from https to http)."""
    assert client._url("accounts") == f"{sim.url}/accounts"
    assert client._url(f"{sim.url}/accounts?page[after]=x") == f"{sim.url}/accounts?page[after]=x"
    for other in (
        "http://evil.example/accounts",
        sim.url.replace("127.0.0.1", "localhost"),
        sim.url.replace("http://", "https://"),
    ):
        with pytest.raises(MalformedResponseError):
            client._url(other)
