"""`proxshift post`: the phases after the ACM import, against a cluster installed earlier.

The same driver as `provision` (engine/provision.py), given the list's tail: the same lock, the same
state file (`ocp_install/<cluster>/state.json`), the same events. The cluster's API is reached with the
kubeconfig stored in Vault, else the install directory's.
"""

from __future__ import annotations

from proxshift.config.project import Project
from proxshift.engine.events import Reporter
from proxshift.engine.phases.base import Options
from proxshift.engine.phases.flow import after
from proxshift.engine.provision import Provision


class Post(Provision):
    verb = "finished"
    command = "post"

    def __init__(self, project: Project, cluster_name: str, options: Options, report: Reporter) -> None:
        super().__init__(project, cluster_name, options, report, after("acm"))
