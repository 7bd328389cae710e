"""Simulated OLM over HTTPS: Subscription -> InstallPlan -> CSV Succeeded -> CRDs, and how it fails."""

from __future__ import annotations

import time
from typing import Any

from proxshift.lab.olm_sim import OlmSimulation
from tests.integration.kube import conditions, eventually, get_json
from tests.integration.post_install import PostInstallLab

SUB = ("operators.coreos.com/v1alpha1", "Subscription")
CSV = ("operators.coreos.com/v1alpha1", "ClusterServiceVersion")
PLAN = ("operators.coreos.com/v1alpha1", "InstallPlan")
CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")


def _established(lab: PostInstallLab, name: str) -> bool:
    crd = lab.get(*CRD, name)
    return crd is not None and conditions(crd)["Established"]["status"] == "True"


def test_the_platform_is_there(post_install: PostInstallLab) -> None:
    sources = post_install.get(
        "operators.coreos.com/v1alpha1", "CatalogSource", "redhat-operators", "openshift-marketplace"
    )
    assert sources is not None
    eventually(
        lambda: (
            post_install.kube.store.find(
                "operators.coreos.com/v1alpha1", "CatalogSource", "community-operators", "openshift-marketplace"
            )["status"]["connectionState"]["lastObservedState"]
            == "READY"
        )
    )
    assert post_install.get("operators.coreos.com/v1", "OperatorGroup", "global-operators", "openshift-operators")
    assert _established(post_install, "subscriptions.operators.coreos.com")


def test_gitops_operator_installs_as_the_issue_waits_for_it(post_install: PostInstallLab) -> None:
    lab = post_install
    lab.olm.csv_seconds = 1.5  # long enough to see the CSV Installing first, even on a busy machine
    lab.subscribe("openshift-gitops-operator", "openshift-gitops-operator", "latest", "redhat-operators")
    name = eventually(
        lambda: (
            (lab.get(*SUB, "openshift-gitops-operator", "openshift-gitops-operator") or {}).get("status") or {}
        ).get("installedCSV")
    )
    assert name == "openshift-gitops-operator.v1.16.1"
    first = lab.get(*CSV, name, "openshift-gitops-operator")
    assert first is not None and first["status"]["phase"] != "Succeeded"  # it takes its time
    csv = lab.installed_csv("openshift-gitops-operator", "openshift-gitops-operator")
    assert csv["status"]["reason"] == "InstallSucceeded"
    sub = lab.get(*SUB, "openshift-gitops-operator", "openshift-gitops-operator")
    assert sub is not None and sub["status"]["state"] == "AtLatestKnown"
    plan = lab.get(*PLAN, sub["status"]["installPlanRef"]["name"], "openshift-gitops-operator")
    assert plan is not None and plan["spec"]["clusterServiceVersionNames"] == [name]
    assert plan["status"]["phase"] == "Complete" and plan["spec"]["approved"] is True
    for crd in ("applications.argoproj.io", "appprojects.argoproj.io", "argocds.argoproj.io"):
        assert _established(lab, crd), crd
    deployment = lab.get(
        "apps/v1", "Deployment", "openshift-gitops-operator-controller-manager", "openshift-gitops-operator"
    )
    assert deployment is not None and conditions(deployment)["Available"]["status"] == "True"
    assert eventually(lambda: lab.get("v1", "Namespace", "openshift-gitops"))

    def available() -> bool:
        argocd = lab.get("argoproj.io/v1beta1", "ArgoCD", "openshift-gitops", "openshift-gitops") or {}
        return (argocd.get("status") or {}).get("phase") == "Available"

    eventually(available, what="ArgoCD openshift-gitops Available")
    # applying the same objects again changes nothing
    lab.subscribe("openshift-gitops-operator", "openshift-gitops-operator", "latest", "redhat-operators")
    time.sleep(0.2)
    assert len(lab.kube.store.list(lab.kube.store.type_of(*PLAN), None)) == 1


def _failed_condition(lab: PostInstallLab, name: str, namespace: str, kind: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        sub = lab.get(*SUB, name, namespace)
        item = conditions(sub or {}).get(kind)
        return item if item and item["status"] == "True" else None

    return eventually(found, what=f"{kind} on {name}")


def test_resolution_fails_on_an_unknown_channel_package_or_catalog(post_install: PostInstallLab) -> None:
    lab = post_install
    lab.subscribe("openshift-gitops-operator", "gitops-a", "stable-9", "redhat-operators")
    message = _failed_condition(lab, "openshift-gitops-operator", "gitops-a", "ResolutionFailed")["message"]
    assert message.startswith("constraints not satisfiable: no operators found in channel stable-9")
    lab.subscribe("no-such-operator", "gitops-b", "stable", "redhat-operators")
    message = _failed_condition(lab, "no-such-operator", "gitops-b", "ResolutionFailed")["message"]
    assert "no operators found in package no-such-operator" in message
    lab.subscribe("openshift-gitops-operator", "gitops-c", "latest", "my-catalog")
    message = _failed_condition(lab, "openshift-gitops-operator", "gitops-c", "ResolutionFailed")["message"]
    assert "no operators found from catalog my-catalog in namespace openshift-marketplace" in message
    sub = lab.get(*SUB, "openshift-gitops-operator", "gitops-a")
    assert sub is not None and "installedCSV" not in sub["status"] and "installPlanRef" not in sub["status"]


def test_an_unhealthy_catalog_then_a_healthy_one(post_install: PostInstallLab) -> None:
    lab = post_install
    lab.olm.catalog_unhealthy("redhat-operators")
    lab.subscribe("openshift-gitops-operator", "openshift-gitops-operator", "latest", "redhat-operators")
    found = _failed_condition(lab, "openshift-gitops-operator", "openshift-gitops-operator", "CatalogSourcesUnhealthy")
    assert found["message"] == "targeted catalogsource openshift-marketplace/redhat-operators unhealthy"
    lab.olm.catalog_unhealthy("redhat-operators", False)
    lab.installed_csv("openshift-gitops-operator", "openshift-gitops-operator")


def test_manual_approval_waits_for_the_plan_to_be_approved(post_install: PostInstallLab) -> None:
    lab = post_install
    lab.subscribe("openshift-gitops-operator", "openshift-gitops-operator", "latest", "redhat-operators", "Manual")
    pending = _failed_condition(lab, "openshift-gitops-operator", "openshift-gitops-operator", "InstallPlanPending")
    assert pending["reason"] == "RequiresApproval"
    sub = lab.get(*SUB, "openshift-gitops-operator", "openshift-gitops-operator")
    assert sub is not None
    plan_name = sub["status"]["installPlanRef"]["name"]
    plan = lab.get(*PLAN, plan_name, "openshift-gitops-operator")
    assert plan is not None and plan["status"]["phase"] == "RequiresApproval"
    assert sub["status"]["currentCSV"] in plan["spec"]["clusterServiceVersionNames"]
    time.sleep(0.3)
    assert lab.get(*CSV, sub["status"]["currentCSV"], "openshift-gitops-operator") is None
    from kubernetes import client

    client.CustomObjectsApi(lab.client).patch_namespaced_custom_object(
        "operators.coreos.com",
        "v1alpha1",
        "openshift-gitops-operator",
        "installplans",
        plan_name,
        {"spec": {"approved": True}},
    )
    lab.installed_csv("openshift-gitops-operator", "openshift-gitops-operator")


def test_a_failing_csv_and_a_namespace_without_operator_group(post_install: PostInstallLab) -> None:
    lab = post_install
    lab.olm.fail_csv("openshift-gitops-operator", "install timeout: deployment not ready")
    lab.subscribe("openshift-gitops-operator", "openshift-gitops-operator", "latest", "redhat-operators")

    def phase(namespace: str, wanted: str) -> dict[str, Any] | None:
        csv = lab.get(*CSV, "openshift-gitops-operator.v1.16.1", namespace) or {}
        return csv if (csv.get("status") or {}).get("phase") == wanted else None

    failed = eventually(lambda: phase("openshift-gitops-operator", "Failed"))
    assert (failed["status"]["reason"], failed["status"]["message"]) == (
        "InstallCheckFailed",
        "install timeout: deployment not ready",
    )
    lab.subscribe("openshift-gitops-operator", "lonely", "latest", "redhat-operators", group=False)
    lonely = eventually(lambda: phase("lonely", "Failed"))
    assert (lonely["status"]["reason"], lonely["status"]["message"]) == (
        "NoOperatorGroup",
        "csv in namespace with no operatorgroups",
    )


def test_community_eso_serves_v1_only(post_install: PostInstallLab) -> None:
    lab = post_install
    lab.subscribe("external-secrets-operator", "openshift-operators", "stable", "community-operators")
    csv = lab.installed_csv("external-secrets-operator", "openshift-operators")
    assert csv["metadata"]["name"].startswith("external-secrets-operator.v0.")
    crd = lab.get(*CRD, "clustersecretstores.external-secrets.io")
    assert crd is not None
    assert {v["name"]: v["served"] for v in crd["spec"]["versions"]} == {"v1": True, "v1beta1": False}
    group = get_json(lab.kube, "/apis/external-secrets.io")
    assert [v["version"] for v in group["versions"]] == ["v1"]
    assert _established(lab, "operatorconfigs.operator.external-secrets.io")


def test_a_recreated_api_gets_olm_again(post_install: PostInstallLab) -> None:
    from proxshift.lab.kubeapi import Store

    post_install.kube.store = Store()
    eventually(lambda: post_install.kube.store.find("v1", "Namespace", "openshift-marketplace"))
    assert isinstance(post_install.olm, OlmSimulation)
