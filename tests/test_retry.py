"""The client's retry policy: pure decisions, then one HTTP check against the simulator."""

from __future__ import annotations

import pytest

from beancount_ponto.errors import (
    ApiError,
    BadCredentialsError,
    BankError,
    MalformedResponseError,
    NotFoundError,
    PontoError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    TransportError,
)
from beancount_ponto.ponto.client import PontoClient, exponential_backoff
from beancount_ponto.ponto.retry import RetryPolicy
from beancount_ponto.simulator import Simulator

DEFAULT = RetryPolicy()


def test_backoff_doubles_from_its_base_up_to_its_cap() -> None:
    assert [DEFAULT.backoff(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 16.0]
    fast = RetryPolicy(backoff_base=0.01, backoff_cap=0.03)
    assert [fast.backoff(n) for n in (1, 2, 3, 4)] == [0.01, 0.02, 0.03, 0.03]
    assert exponential_backoff(3) == DEFAULT.backoff(3)


@pytest.mark.parametrize(
    "failure",
    [
        TransportError("dropped"),
        RequestTimeoutError("slow"),
        ServerError(503),
        ServerError(500),
        RateLimitError(429),
        MalformedResponseError("not JSON"),
    ],
)
def test_transient_failures_are_retried_after_the_backoff(failure: PontoError) -> None:
    assert RetryPolicy.is_transient(failure)
    assert DEFAULT.decide(failure, 0, 90.0) == 0.5
    assert DEFAULT.decide(failure, 2, 90.0) == 2.0


@pytest.mark.parametrize(
    "failure",
    [
        BankError(502, detail="the bank is down"),
        BadCredentialsError(401),
        NotFoundError(404),
        ApiError(400),
    ],
)
def test_other_failures_are_given_up_at_once(failure: ApiError) -> None:
    assert not RetryPolicy.is_transient(failure)
    assert DEFAULT.decide(failure, 0, 90.0) is None


def test_a_rate_limit_waits_what_retry_after_says() -> None:
    assert DEFAULT.decide(RateLimitError(429, retry_after=7.0), 0, 90.0) == 7.0
    assert DEFAULT.decide(RateLimitError(429, retry_after=0.0), 3, 90.0) == 0.0
    assert DEFAULT.decide(RateLimitError(429), 1, 90.0) == 1.0  # no Retry-After: the backoff


def test_the_retry_count_is_bounded() -> None:
    policy = RetryPolicy(max_retries=2)
    failure = ServerError(503)
    assert policy.decide(failure, 0, 90.0) == 0.5
    assert policy.decide(failure, 1, 90.0) == 1.0
    assert policy.decide(failure, 2, 90.0) is None
    assert RetryPolicy(max_retries=0).decide(failure, 0, 90.0) is None


def test_a_wait_beyond_the_remaining_budget_gives_up() -> None:
    assert DEFAULT.decide(RateLimitError(429, retry_after=60.0), 0, 59.9) is None
    assert DEFAULT.decide(RateLimitError(429, retry_after=60.0), 0, 60.0) == 60.0
    assert DEFAULT.decide(ServerError(503), 3, 3.9) is None  # the backoff would be 4 s


def test_a_negative_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError, match="backoff_base"):
        RetryPolicy(backoff_base=-0.5)


def test_the_client_keeps_its_settable_limits_in_its_policy() -> None:
    client = PontoClient("id", "secret", retry=RetryPolicy(max_retries=1, backoff_base=0.25))
    assert client.max_attempts == 2
    client.max_attempts, client.max_retry_seconds = 3, 4.0
    assert client.retry == RetryPolicy(max_retries=2, backoff_base=0.25, budget_seconds=4.0)
    assert PontoClient("id", "secret", max_attempts=1).retry.max_retries == 0


def test_a_policy_without_retries_gives_up_at_the_first_failure(sim: Simulator) -> None:
    waits: list[float] = []
    client = PontoClient(
        sim.client_id,
        sim.client_secret,
        base_url=sim.url,
        sleep=waits.append,
        retry=RetryPolicy(max_retries=0),
    )
    client.authenticate()
    sim.fail_next(1, status=503, path_contains="/accounts")
    before = client.request_count
    with pytest.raises(ServerError) as info:
        client.accounts()
    assert info.value.status == 503
    assert client.request_count - before == 1
    assert waits == []
    assert len(client.accounts()) == 3  # the fault was used up by the one attempt


def test_a_policy_with_a_short_backoff_waits_that_long(sim: Simulator) -> None:
    waits: list[float] = []
    client = PontoClient(
        sim.client_id,
        sim.client_secret,
        base_url=sim.url,
        sleep=waits.append,
        retry=RetryPolicy(max_retries=3, backoff_base=0.01),
    )
    sim.drop_next(2, path_contains="/accounts")
    assert len(client.accounts()) == 3
    assert waits == [0.01, 0.02]
