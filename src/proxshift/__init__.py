"""proxshift: OpenShift clusters on Proxmox VE from one inventory file."""

__version__ = "0.1.0"
