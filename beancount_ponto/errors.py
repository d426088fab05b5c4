"""The error tree of beancount-ponto.

Every error the package raises on purpose derives from :class:`PontoError`.
``str(error)`` is a single line a person can act on; it never contains a
secret (client secret or access token). A class docstring doubles as the
default message, the way Fava names its errors.
"""

from __future__ import annotations

from typing import Any


class PontoError(Exception):
    """Something went wrong talking to Ponto or writing the ledger."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or self.__class__.__name__).strip())

    @property
    def message(self) -> str:
        """The one-line message."""
        return str(self.args[0])


class ConfigError(PontoError):
    """The configuration is missing or invalid."""


class CredentialsMissingError(ConfigError):
    """No Ponto credentials: run `bean-ponto login` or set PONTO_CLIENT_ID/PONTO_CLIENT_SECRET."""


class LedgerError(PontoError):
    """The ledger could not be read or written."""


class LockTimeoutError(LedgerError):
    """Another bean-ponto writer holds the ledger lock."""


class TransportError(PontoError):
    """Ponto could not be reached (connection refused, dropped or timed out)."""


class RequestTimeoutError(TransportError):
    """Ponto did not answer in time."""


class MalformedResponseError(PontoError):
    """Ponto sent an answer that is not the JSON:API document expected."""


class ApiError(PontoError):
    """Ponto answered with an error status.

    Attributes:
        status: the HTTP status code.
        code: the first JSON:API error code, if any.
        detail: the first JSON:API error detail, if any.
        request_id: Ponto's ``ibanity-request-id`` header, for support.
        errors: the whole JSON:API ``errors`` array.
    """

    def __init__(
        self,
        status: int,
        *,
        code: str | None = None,
        detail: str | None = None,
        request_id: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        message: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        self.request_id = request_id
        self.errors = errors or []
        if message is None:
            text = detail or code or (self.__doc__ or "").strip().splitlines()[0]
            message = f"Ponto answered {status}: {text}"
            if request_id:
                message += f" (request id {request_id})"
        super().__init__(message)


class AuthError(ApiError):
    """Ponto refused the credentials or the access token (401/403)."""


class BadCredentialsError(AuthError):
    """Ponto refused the Client ID or Client Secret."""


class ConsentExpiredError(ApiError):
    """Ponto refuses an account: its bank consent is revoked or invalid; reauthorize it in Ponto."""


class BankError(ApiError):
    """The bank refused Ponto (the error carries ``meta.financialInstitutionResponse``).

    Not Ponto's error and not about the Client ID or Secret; not retried.

    Attributes:
        bank_status: the bank's HTTP status to Ponto, if given.
        bank_text: the bank's own answer, shortened to one line, if given.
    """

    def __init__(
        self,
        status: int,
        *,
        bank_status: int | None = None,
        bank_text: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.bank_status = bank_status
        self.bank_text = bank_text
        super().__init__(status, **kwargs)


class NotFoundError(ApiError):
    """The Ponto resource does not exist (404)."""


class RateLimitError(ApiError):
    """Ponto asks to slow down (429).

    Attributes:
        retry_after: seconds Ponto asked to wait, if it said.
    """

    def __init__(self, status: int, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(status, **kwargs)


class ServerError(ApiError):
    """Ponto had an internal problem (5xx)."""
