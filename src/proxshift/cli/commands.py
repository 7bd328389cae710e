"""Import every command module so that it registers itself on the app."""

from proxshift.cli import (  # noqa: F401
    acm_cmds,
    doctor_cmds,
    install_cmds,
    inventory_cmds,
    lab_cmds,
    manifests_cmds,
    provision_cmds,
    vm_cmds,
)
