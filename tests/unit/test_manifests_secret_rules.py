"""manifests/secret_rules.py: the install inputs' formats, always errors, never quoting a value."""

from __future__ import annotations

import yaml

from proxshift.manifests.secret_rules import secret_findings
from tests.conftest import FIXTURES

EXAMPLES = FIXTURES / "schema-examples"


def test_secret_findings_are_errors_and_quote_no_value() -> None:
    install = yaml.safe_load((EXAMPLES / "valid" / "baremetal-3m2w.install-config.yaml").read_text())
    install["pullSecret"] = '{"auths": {"quay.io": {"email": "x@y"}}}'
    install["sshKey"] = "ssh-rsa AAAAB3NzaC1lZDI1NTE5AAAAIFkU x"
    install["additionalTrustBundle"] = "not a certificate"
    findings = list(secret_findings(install))
    assert [(f.rule, f.severity) for f in findings] == [
        ("pull secret format", "error"),
        ("SSH key format", "error"),
        ("CA bundle format", "error"),
    ]
    assert all("x@y" not in f.message and "AAAAB3" not in f.message for f in findings)
