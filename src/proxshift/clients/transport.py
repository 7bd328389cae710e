"""HTTP transport failures (TLS, unreachable) as one-line errors, for every requests-based client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from proxshift.errors import OperationError, ProxshiftError


@contextmanager
def transport_errors(service: str, where: str, doing: str, tls_hint: str, reach_hint: str) -> Iterator[None]:
    import requests

    try:
        yield
    except ProxshiftError:
        raise
    except requests.exceptions.SSLError:
        raise OperationError(f"TLS verification of {service} at {where} failed while {doing}", tls_hint) from None
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout):
        raise OperationError(f"{service} at {where} is unreachable while {doing}", reach_hint) from None
