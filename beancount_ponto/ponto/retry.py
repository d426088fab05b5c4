"""When the client tries a failed Ponto request again: the retry policy.

Contract: a :class:`RetryPolicy` is a pure decision, no I/O and no clock.
Given a failure, how many retries were already made and how many seconds of
the waiting budget remain, :meth:`RetryPolicy.decide` answers "retry after N
seconds" (a float) or "give up" (None). Transient failures are:

* a dropped or refused connection, a timeout (:class:`TransportError`);
* a 429 (:class:`RateLimitError`), retried after its ``Retry-After`` when it
  says one, else after the backoff;
* a 5xx (:class:`ServerError`), except a :class:`BankError` (the bank refused;
  asking again does not help);
* an answer that is not JSON (:class:`MalformedResponseError`).

Anything else (a 4xx, bad credentials, a bank refusal) is given up at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from beancount_ponto.errors import (
    BankError,
    MalformedResponseError,
    PontoError,
    RateLimitError,
    ServerError,
    TransportError,
)

#: Retries after the first attempt by default (5 attempts survive 4 failures in a row).
DEFAULT_RETRIES = 4
#: Seconds before the first retry by default; each further retry waits twice as long.
DEFAULT_BACKOFF_SECONDS = 0.5
#: The longest backoff between two attempts, in seconds.
DEFAULT_BACKOFF_CAP_SECONDS = 16.0
#: Seconds a request may spend in all before it gives up (waits and attempts).
DEFAULT_BUDGET_SECONDS = 90.0


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures are retried, how often, and how long to wait before each retry.

    Attributes:
        max_retries: retries after the first attempt; 0 gives up at the first failure.
        backoff_base: seconds before retry 1; retry n waits ``base * 2**(n-1)``.
        backoff_cap: the longest backoff, in seconds.
        budget_seconds: a retry whose wait exceeds the remaining budget is not made.
    """

    max_retries: int = DEFAULT_RETRIES
    backoff_base: float = DEFAULT_BACKOFF_SECONDS
    backoff_cap: float = DEFAULT_BACKOFF_CAP_SECONDS
    budget_seconds: float = DEFAULT_BUDGET_SECONDS

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must not be negative, not {self.max_retries}")
        if self.backoff_base < 0 or self.backoff_cap < 0 or self.budget_seconds < 0:
            raise ValueError("backoff_base, backoff_cap and budget_seconds must not be negative")

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based), exponential and capped."""
        return float(min(self.backoff_base * 2 ** (retry - 1), self.backoff_cap))

    @staticmethod
    def is_transient(failure: PontoError) -> bool:
        """Whether asking again may succeed (see the module's list)."""
        if isinstance(failure, BankError):
            return False
        return isinstance(
            failure, (TransportError, RateLimitError, ServerError, MalformedResponseError)
        )

    def decide(self, failure: PontoError, retries_done: int, remaining: float) -> float | None:
        """Retry after the returned seconds, or give up (None).

        Args:
            failure: what the last attempt ended with.
            retries_done: retries already made for this request (0 after the first attempt).
            remaining: seconds left of the request's budget.

        Returns:
            the wait before the next attempt: ``Retry-After`` for a 429 that says
            one, else :meth:`backoff`; None when the failure is not transient,
            ``max_retries`` are spent or the wait exceeds ``remaining``.
        """
        if not self.is_transient(failure) or retries_done >= self.max_retries:
            return None
        wait: float | None = None
        if isinstance(failure, RateLimitError):
            wait = failure.retry_after
        if wait is None:
            wait = self.backoff(retries_done + 1)
        return wait if wait <= remaining else None
