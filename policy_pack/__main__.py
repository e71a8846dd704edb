"""Serve the pack to the Pulumi engine. Building a PolicyPack starts its gRPC server and blocks, so
nothing else imports this file: the policies are in policy_pack/rules.py."""

import sys
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack

# Pulumi runs this file from policy_pack/; the rules live in the repository's packages beside it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policy_pack.rules import PACK_NAME, policies

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=policies(),
)
