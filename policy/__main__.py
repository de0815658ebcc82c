"""Entry point of the CrossGuard policy pack: ``pulumi preview --policy-pack policy``.

The CLI runs this file with the pack directory as working directory; the repository root is put
on ``sys.path`` so the pack imports the same ``policy`` package the offline validator uses.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policy.pack import PACK_NAME, build_policies

PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=build_policies())
