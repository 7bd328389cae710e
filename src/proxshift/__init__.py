"""proxshift: OpenShift clusters on Proxmox VE from one inventory file."""

import os

__version__ = "0.1.0"

# proxshift uses no pydantic plugins; discovering them scans every installed distribution's
# entry points, which costs ~80 ms on each start. A user's own setting is left alone.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
