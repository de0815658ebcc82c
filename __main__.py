"""Pulumi entry point: validate the stack config, build the platform, export its outputs."""

import pulumi

from stack.config import ConfigError, StackConfig
from stack.config.secrets import secrets_from_pulumi
from stack.program import build

config = StackConfig.from_pulumi()
for warning in config.warnings():
    pulumi.log.warn(warning)
try:
    exports = build(config, stack=pulumi.get_stack(), secrets=secrets_from_pulumi())
except ConfigError as err:
    raise pulumi.RunError(f"invalid configuration of stack {pulumi.get_stack()}:\n{err}") from None
for key, value in exports.items():
    pulumi.export(key, value)
