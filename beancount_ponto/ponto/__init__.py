"""The Ponto API SDK: an HTTP client and typed models of its answers.

This layer knows Ponto and nothing of Beancount, the ledger or ``ponto.toml``;
it imports only :mod:`beancount_ponto.errors` (and the package version, for the
User-Agent).
"""
