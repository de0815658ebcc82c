"""Pulumi entry point: validate the stack config, build the platform, export its outputs."""

import pulumi

from stack.config import StackConfig
from stack.program import build
from stack.secrets import secrets_from_pulumi

for key, value in build(StackConfig.from_pulumi(), stack=pulumi.get_stack(), secrets=secrets_from_pulumi()).items():
    pulumi.export(key, value)
