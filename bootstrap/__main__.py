"""The bootstrap program: the deploy role of every stack of this account (components/bootstrap.py).

Run once per account and region by an administrator, before the first stack:
`pulumi -C bootstrap up --stack account`. Its own state holds nothing but IAM.
"""

import pulumi

from soundstack.components.base import StackContext
from soundstack.components.bootstrap import DeployRoles, DeployRolesArgs

config = pulumi.Config("soundstack-bootstrap")
ctx = StackContext(
    project=config.get("project") or "soundstack",
    stack=pulumi.get_stack(),
    environment="prod",  # account-wide: held to the strictest tags and defaults
    region=pulumi.Config("aws").require("region"),
    owner=config.require("owner"),
    cost_centre=config.require("cost_centre"),
)
roles = DeployRoles(
    "deploy-roles",
    DeployRolesArgs(
        stacks=config.require_object("stacks"),
        admin_principal_arns=config.require_object("admin_principal_arns"),
    ),
    ctx,
)
pulumi.export("deploy_role_arns", roles.role_arns)
