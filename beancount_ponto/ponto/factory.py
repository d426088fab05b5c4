"""Building a :class:`~beancount_ponto.ponto.client.PontoClient` from settings.

Contract: :func:`make_client` takes anything shaped like
:class:`ClientSettings` (the application's ``Config`` is one) and a pair of
:class:`ClientCredentials`; it never reads files or the environment, so this
layer stays free of the application's configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from beancount_ponto.ponto.client import PontoClient
from beancount_ponto.ponto.retry import RetryPolicy

if TYPE_CHECKING:
    from pathlib import Path


class ClientSettings(Protocol):
    """Where the API is, the optional mTLS certificate (with its key), how to retry."""

    @property
    def client_cert(self) -> Path | None:
        """The client certificate (PEM), or None."""

    @property
    def client_key(self) -> Path | None:
        """Its private key when kept apart from the certificate, or None."""

    @property
    def retries(self) -> int:
        """Retries of a failed request (``RetryPolicy.max_retries``)."""

    @property
    def retry_backoff_seconds(self) -> float:
        """Seconds before the first retry (``RetryPolicy.backoff_base``)."""

    def effective_api_url(self) -> str:
        """The API base URL."""


class ClientCredentials(Protocol):
    """A Ponto integration's Client ID and Client Secret."""

    @property
    def client_id(self) -> str:
        """The Client ID."""

    @property
    def client_secret(self) -> str:
        """The Client Secret."""


def make_client(settings: ClientSettings, credentials: ClientCredentials) -> PontoClient:
    """A client for ``settings``' API, authenticating with ``credentials``, retrying as set."""
    cert: str | tuple[str, str] | None = None
    if settings.client_cert:
        cert = (
            (str(settings.client_cert), str(settings.client_key))
            if settings.client_key
            else str(settings.client_cert)
        )
    return PontoClient(
        credentials.client_id,
        credentials.client_secret,
        base_url=settings.effective_api_url(),
        cert=cert,
        retry=RetryPolicy(
            max_retries=settings.retries, backoff_base=settings.retry_backoff_seconds
        ),
    )
