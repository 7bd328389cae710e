"""Every environment variable proxshift reads, and why; the tests clear them all (tests/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variable:
    name: str
    reason: str


# Read by proxshift's own code (a test fails when src reads one that is not here).
SETTINGS: tuple[Variable, ...] = (
    Variable("PROXSHIFT_DEBUG", "debug notes and tracebacks, as --debug (any value but empty or 0)"),
    Variable("PROXSHIFT_ROOT", "the root (inventory/, ocp_install/, templates/) when --root is not given"),
    Variable("PROXSHIFT_CONFIG", "the site config when --config is not given"),
    Variable("PROXSHIFT_HUB_KUBECONFIG", "the ACM hub's kubeconfig when --hub-kubeconfig is not given"),
    Variable(
        "KUBECONFIG",
        "the hub's kubeconfig when no other source has it (else ~/.kube/config), with a warning; set for oc "
        "(nodes add) to a temporary copy of the cluster's",
    ),
    Variable("PROXSHIFT_PROXMOX_TOKEN_ID", "the Proxmox API token (user@realm!tokenid), preferred to a password"),
    Variable("PROXSHIFT_PROXMOX_TOKEN_SECRET", "the secret of that API token"),
    Variable("PROXSHIFT_PROXMOX_USER", "the Proxmox user for a password login, when there is no token"),
    Variable("PROXSHIFT_PROXMOX_PASSWORD", "that user's password"),
    Variable("VAULT_ADDR", "Vault's address; wins over vault_addr in the site config"),
    Variable("VAULT_TOKEN", "the Vault token; without it, ~/.vault-token"),
    Variable("VAULT_ROLE_ID", "AppRole login, with VAULT_SECRET_ID"),
    Variable("VAULT_SECRET_ID", "AppRole login, with VAULT_ROLE_ID"),
    Variable("VAULT_NAMESPACE", "the Vault namespace, when there is one"),
    Variable("VAULT_CACERT", "the CA certificate that signed Vault's TLS certificate"),
    Variable("VAULT_SKIP_VERIFY", "turns off the check of Vault's TLS certificate (with a warning)"),
    Variable("XDG_CACHE_HOME", "the cache: the clusters listing, installers, schema passes, compiled templates"),
    Variable("COLUMNS", "the width of tables when stdout is piped (default: rows are never folded)"),
    Variable("FORCE_COLOR", "colour (and rich) on stderr even when it is piped; tables drawn by rich"),
    Variable("TTY_COMPATIBLE", "rich's switch between terminal and pipe: with it set, rich draws the tables"),
)

# Read by the libraries proxshift drives, with an effect on what proxshift does.
LIBRARIES: tuple[Variable, ...] = (
    Variable("REQUESTS_CA_BUNDLE", "requests' CA bundle for Vault and Proxmox when no CA file is configured"),
    Variable("CURL_CA_BUNDLE", "the same, under curl's name, when REQUESTS_CA_BUNDLE is unset"),
    Variable("HTTPS_PROXY", "requests' proxy for https URLs (Proxmox, Vault)"),
    Variable("HTTP_PROXY", "requests' proxy for http URLs (the rendezvous host's assisted-service API)"),
    Variable("NO_PROXY", "hosts requests reaches directly: must cover the rendezvous IP when a proxy is set"),
    Variable("https_proxy", "HTTPS_PROXY in the lowercase form, which requests reads too"),
    Variable("http_proxy", "HTTP_PROXY in the lowercase form, which requests reads too"),
    Variable("no_proxy", "NO_PROXY in the lowercase form, which requests reads too"),
    Variable("_PROXSHIFT_COMPLETE", "set by the shell's completion script: Typer prints candidates instead of running"),
)

# Read too, but every program needs them: tests point them somewhere instead of clearing them.
INHERITED: tuple[Variable, ...] = (
    Variable("HOME", "~/.vault-token, ~/.proxshift/site-config.yaml, ~/.kube/config and the default cache"),
    Variable("PATH", "openshift-install when ocp_installer_path does not hold it"),
)

# What an isolated test run removes from the environment.
CLEARED: tuple[str, ...] = tuple(v.name for v in SETTINGS + LIBRARIES)
