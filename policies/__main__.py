"""The kubepar guardrails policy pack: `pulumi preview --policy-pack policies`.

Only constructs the pack; the rules live in the kubepar_policies package so tests can
import them (constructing a PolicyPack starts a server and never returns).
"""

from kubepar_policies import ALL_POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="kubepar-guardrails",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=ALL_POLICIES,
)
