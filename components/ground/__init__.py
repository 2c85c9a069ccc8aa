"""The ground floor: pure Python that every wing, the tools and the policy pack may import.

Owns: settings models, the problem-collecting reader, value parsers, the
parser of ``Pulumi.yaml``, pool sizing, quantities, address ranges, the pool
vocabulary, image facts the pack checks, and the cost arithmetic. Does not:
import the Pulumi SDK or any provider (tests/test_layout.py checks it).
"""
