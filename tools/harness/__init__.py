"""The harness: Pulumi's mock engine around the real program, the CLI's config rules, the policy pack's
evaluator, and the local pod runner, as one package that tests, the render and benchmarks import.

Owns: nothing of the product; it runs the product. Does not: edit
``sys.path`` (run from the project root, or under pytest, whose root it is).
"""

from tools.harness.capture import SECRET_MASK, Capture, Recorded, gcp_documents, kubernetes_documents
from tools.harness.cli import CliConfigError, apply_project_config, stack_config
from tools.harness.mocks import (
    MOCK_CLUSTER_ENDPOINT,
    MOCK_DNS_ENDPOINT,
    MOCK_LOAD_BALANCER_IP,
    MOCK_PROJECT_NUMBER,
    RecordingMocks,
    RecordingMonitor,
)
from tools.harness.program import run_function, run_program, write_render

__all__ = [
    "MOCK_CLUSTER_ENDPOINT",
    "MOCK_DNS_ENDPOINT",
    "MOCK_LOAD_BALANCER_IP",
    "MOCK_PROJECT_NUMBER",
    "SECRET_MASK",
    "Capture",
    "CliConfigError",
    "Recorded",
    "RecordingMocks",
    "RecordingMonitor",
    "apply_project_config",
    "gcp_documents",
    "kubernetes_documents",
    "run_function",
    "run_program",
    "stack_config",
    "write_render",
]
