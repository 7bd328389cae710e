"""engine/health.py's certificate rule: a certificate the cluster renews itself warns only when renewal lags."""

from __future__ import annotations

import pytest

from proxshift.clients import openshift
from proxshift.clients.openshift import ServingCertificate
from proxshift.engine import health

DAY = 86400.0
CLUSTER_SIGNER = "openshift-kube-apiserver-operator_loadbalancer-serving-signer@1717171717"


@pytest.mark.parametrize(
    ("issuer", "days", "status"),
    [
        (CLUSTER_SIGNER, 25, "ok"),  # renewed every 15 of its 30 days: 15-30 days left is normal
        (CLUSTER_SIGNER, 10, "ok"),
        (CLUSTER_SIGNER, 5, "warning"),  # renewal is not happening
        ("R11", 45, "ok"),  # Let's Encrypt, renewed by someone outside the cluster
        ("R11", 20, "warning"),
        ("R11", -1, "failed"),
    ],
)
def test_certificate_expiry(monkeypatch: pytest.MonkeyPatch, issuer: str, days: int, status: str) -> None:
    now = 1_750_000_000.0
    monkeypatch.setattr(
        openshift, "serving_certificate", lambda api, timeout: ServingCertificate(now + days * DAY, issuer)
    )
    [check] = health._certificate(object(), lambda: now)  # type: ignore[arg-type]
    assert (check.name, check.status) == ("API certificate", status)
    if issuer == CLUSTER_SIGNER:
        assert check.detail.endswith("(the cluster renews it)")
