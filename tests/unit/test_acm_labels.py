"""clients/acm.py labels_for: ACM's labels, the predecessor's defaults, the inventory's additions and removals."""

from __future__ import annotations

from proxshift.clients.acm import labels_for


def test_the_predecessors_labels_are_defaults() -> None:
    assert labels_for("ocp", "default", {}) == {
        "name": "ocp",
        "cloud": "auto-detect",
        "vendor": "auto-detect",
        "cluster.open-cluster-management.io/clusterset": "default",
        "cluster-name": "ocp",
        "apply-gitops": "true",
        "apply-certs": "true",
    }


def test_acm_labels_add_override_and_null_removes() -> None:
    labels = labels_for("ocp", "lab", {"apply-gitops": "false", "apply-certs": None, "tier": "edge"})
    assert labels["apply-gitops"] == "false" and labels["tier"] == "edge" and "apply-certs" not in labels
    assert labels["cluster.open-cluster-management.io/clusterset"] == "lab"
