"""kubepar's tools: the offline render, the real engine's stack runner, benchmarks, and the harness they share.

Run them from the project root as modules (``python -m tools.render dev``),
so ``components`` and ``tools`` import as packages; the Makefile does.
"""
