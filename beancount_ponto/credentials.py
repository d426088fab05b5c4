"""The credential store and the client the application uses.

Secrets live in a JSON file with mode 0600 (default
``$XDG_CONFIG_HOME/bean-ponto/credentials.json``, never where Fava serves
files); ``PONTO_CLIENT_ID`` / ``PONTO_CLIENT_SECRET`` override it. Contract:
:func:`resolve_credentials` gives the environment's pair, else the stored one,
else raises :class:`~beancount_ponto.errors.CredentialsMissingError`;
:func:`client_for` builds the SDK client a :class:`~beancount_ponto.config.Config`
describes (API URL, mTLS certificate) with them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from beancount_ponto.errors import ConfigError, CredentialsMissingError
from beancount_ponto.fileutil import atomic_write_text
from beancount_ponto.ponto.factory import make_client

if TYPE_CHECKING:
    from pathlib import Path

    from beancount_ponto.config import Config
    from beancount_ponto.ponto.client import PontoClient


@dataclass(frozen=True)
class Credentials:
    """A Ponto custom integration's Client ID and Client Secret."""

    client_id: str
    client_secret: str = field(repr=False)

    def __str__(self) -> str:
        return f"Credentials(client_id={self.client_id!r}, client_secret=<hidden>)"


def store_credentials(path: Path, credentials: Credentials) -> None:
    """Store the credentials in ``path`` with mode 0600 (folder 0700 when created)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    payload = {"client_id": credentials.client_id, "client_secret": credentials.client_secret}
    atomic_write_text(path, json.dumps(payload, indent=2) + "\n", mode=0o600)


def stored_credentials(path: Path) -> Credentials | None:
    """The credentials stored in ``path``, or None when there are none."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"{path}: unreadable credentials file ({exc.__class__.__name__})"
        ) from None
    cid, secret = raw.get("client_id"), raw.get("client_secret")
    if not isinstance(cid, str) or not isinstance(secret, str) or not cid or not secret:
        raise ConfigError(f"{path}: credentials file lacks client_id or client_secret")
    return Credentials(cid, secret)


def resolve_credentials(config: Config) -> Credentials:
    """Environment first (``PONTO_CLIENT_ID``/``PONTO_CLIENT_SECRET``), then the store.

    Raises:
        CredentialsMissingError: if neither has both values.
    """
    env_id = os.environ.get("PONTO_CLIENT_ID")
    env_secret = os.environ.get("PONTO_CLIENT_SECRET")
    stored = stored_credentials(config.credentials_path())
    cid = env_id or (stored.client_id if stored else None)
    secret = env_secret or (stored.client_secret if stored else None)
    if not cid or not secret:
        raise CredentialsMissingError()
    return Credentials(cid, secret)


def client_for(config: Config, credentials: Credentials | None = None) -> PontoClient:
    """A client for the configured API, with ``credentials`` or the resolved ones.

    Raises:
        CredentialsMissingError: if no credentials are known.
    """
    return make_client(config, credentials or resolve_credentials(config))
