"""Mutation testing of the modules that decide what is safe and what fits: `make mutation`.

Each mutant is one small change to one module (a comparison or an operator
turned, a number off by one, a string or a row of a table spoiled or
removed, a flag flipped, min for max), written into a copy of the project;
the unit tests that reach the module then run against it, and the mutant is
killed when that run fails in any way (an import error included) or runs
past its time. Prints a table per module and writes the survivors, with
their line, to build/mutation/.

Why not a library: mutmut 3 mutates only inside functions and cosmic-ray
has no string or element operators, while the tables here (the dangerous
rights, the machine families, the reservation steps) are module-level data,
and a deleted row is the mutant that matters most.

Usage (from the project root): python -m tools.mutation [--module PATH ...] [--workers N] [--list]
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import Queue

from components.ground.project import PROJECT_ROOT

OUT = Path(os.environ.get("KUBEPAR_MUTATION_OUT", PROJECT_ROOT / "build" / "mutation"))
# Each module and the unit tests that reach it (the mock-engine program tests are in the config
# modules' lists, as config reaches the arithmetic through them).
MODULES: dict[str, tuple[str, ...]] = {
    "components/ground/cidrs.py": (
        "tests/test_cidrs.py",
        "tests/test_config_ranges.py",
        "tests/test_config_third_pass.py",
        "tests/policies/test_exposure.py",
        "tests/policies/test_network.py",
    ),
    "components/ground/quantities.py": ("tests/test_quantities.py", "tests/test_machine_families.py"),
    "components/ground/sizing.py": ("tests/test_sizing.py", "tests/test_config.py", "tests/test_disks.py"),
    "components/ground/cost.py": ("tests/test_cost.py", "tests/test_machine_families.py"),
    "policies/kubepar_policies/rbac.py": (
        "tests/policies/test_rbac.py",
        "tests/policies/test_rbac_rights.py",
        "tests/policies/test_policy_config.py",
    ),
    "components/ground/hub_rights.py": ("tests/test_hub_spark_facts.py", "tests/policies/test_rbac.py"),
    "components/ground/hub_sizes.py": ("tests/test_hub_spark_facts.py", "tests/test_cost.py"),
    "components/ground/spark.py": ("tests/test_hub_spark_facts.py",),
    "components/config/hub.py": ("tests/test_hub_config.py", "tests/test_hub_quota.py"),
    "components/config/spark.py": ("tests/test_spark_config.py",),
    "components/config/door.py": ("tests/test_door_config.py",),
}
BINARY = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult,
}  # fmt: skip
COMPARE = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}  # fmt: skip
SWAPPED_CALLS = {"min": "max", "max": "min", "any": "all", "all": "any"}


@dataclass(frozen=True)
class Mutant:
    module: str
    index: int
    """Position among the module's mutation points (ast.walk order) and the variant there."""
    variant: int
    line: int
    change: str


def _skipped(tree: ast.Module) -> set[int]:
    """Nodes never mutated: docstrings, annotations, f-string parts, ``from __future__``."""
    skipped: set[int] = set()

    def skip(node: ast.AST | None) -> None:
        for inner in ast.walk(node) if node is not None else ():
            skipped.add(id(inner))

    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip(first)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            skip(node)  # attribute docstrings
        if isinstance(node, ast.AnnAssign):
            skip(node.annotation)
        if isinstance(node, ast.arg):
            skip(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            skip(node.returns)
        if isinstance(node, ast.JoinedStr | ast.ImportFrom | ast.Import):
            skip(node)
    return skipped


def _variants(node: ast.AST) -> list[tuple[str, ast.AST]]:
    """(what changes, the node that replaces it) for one node."""
    if isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in BINARY:
        arithmetic = copy.copy(node)
        arithmetic.op = BINARY[type(node.op)]()
        return [(f"{type(node.op).__name__} -> {type(arithmetic.op).__name__}", arithmetic)]
    if isinstance(node, ast.Compare):
        found: list[tuple[str, ast.AST]] = []
        for position, op in enumerate(node.ops):
            if type(op) in COMPARE:
                compare = copy.copy(node)
                compare.ops = [*node.ops[:position], COMPARE[type(op)](), *node.ops[position + 1 :]]
                found.append((f"{type(op).__name__} -> {type(compare.ops[position]).__name__}", compare))
        return found
    if isinstance(node, ast.BoolOp):
        boolean = copy.copy(node)
        boolean.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        return [(f"{type(node.op).__name__} -> {type(boolean.op).__name__}", boolean)]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.USub):
        return [(f"drop {type(node.op).__name__}", node.operand)]
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool):
            return [(f"{value} -> {not value}", ast.Constant(not value))]
        if isinstance(value, int | float):
            return [(f"{value!r} -> {value + 1!r}", ast.Constant(value + 1))]
        if isinstance(value, str):
            return [(f"{value[:30]!r} spoiled", ast.Constant(f"XX{value}XX"))]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in SWAPPED_CALLS:
        call = copy.copy(node)
        call.func = ast.Name(SWAPPED_CALLS[node.func.id], ast.Load())
        return [(f"{node.func.id} -> {SWAPPED_CALLS[node.func.id]}", call)]
    return []


def _element_lists(node: ast.AST) -> list[tuple[str, list[ast.expr | None]]]:
    """Displays whose elements may each be removed (a row of a table), as (field, elements)."""
    if isinstance(node, ast.List | ast.Tuple | ast.Set) and isinstance(getattr(node, "ctx", ast.Load()), ast.Load):
        return [("elts", list(node.elts))] if len(node.elts) >= 2 else []
    if isinstance(node, ast.Dict) and len(node.keys) >= 2:
        return [("keys", list(node.keys))]
    return []


def points(source: str) -> Iterator[tuple[int, int, int, str]]:
    """Every mutation of ``source``: (node index, variant, line, what changes)."""
    tree = ast.parse(source)
    skipped = _skipped(tree)
    for index, node in enumerate(ast.walk(tree)):
        if id(node) in skipped:
            continue
        variant = 0
        for change, _ in _variants(node):
            yield index, variant, getattr(node, "lineno", 0), change
            variant += 1
        for _, elements in _element_lists(node):
            for position, element in enumerate(elements):
                yield index, variant, getattr(element or node, "lineno", 0), f"remove element {position + 1}"
                variant += 1


def mutate(source: str, index: int, variant: int) -> str:
    """``source`` with one mutation applied."""
    tree = ast.parse(source)
    nodes = list(ast.walk(tree))
    target = nodes[index]
    changes = _variants(target)
    if variant < len(changes):
        replacement = changes[variant][1]
        for parent in nodes:
            for field, value in ast.iter_fields(parent):
                if value is target:
                    setattr(parent, field, replacement)
                elif isinstance(value, list) and any(item is target for item in value):
                    setattr(parent, field, [replacement if item is target else item for item in value])
    else:
        position = variant - len(changes)
        if isinstance(target, ast.Dict):
            del target.keys[position], target.values[position]
        else:
            assert isinstance(target, ast.List | ast.Tuple | ast.Set)
            del target.elts[position]
    return ast.unparse(ast.fix_missing_locations(tree))


def mutants(module: str) -> list[Mutant]:
    source = (PROJECT_ROOT / module).read_text()
    return [Mutant(module, index, variant, line, change) for index, variant, line, change in points(source)]


def _tree(folder: Path) -> Path:
    """A copy of the project's tracked files, where mutants are written."""
    if folder.exists():
        shutil.rmtree(folder)
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True).stdout
    for name in listed.decode().split("\0"):
        source = PROJECT_ROOT / name
        if name and source.is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / name)
    return folder


def _run_tests(tree: Path, tests: tuple[str, ...], timeout: float) -> str:
    """``killed``, ``survived`` or ``timeout`` for the tests in ``tree`` as it is now."""
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:warnings", *tests]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        done = subprocess.run(command, cwd=tree, capture_output=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        return "timeout"
    return "survived" if done.returncode == 0 else "killed"


def run(modules: list[str], workers: int) -> dict[str, dict[str, object]]:
    trees: Queue[Path] = Queue()
    for number in range(workers):
        trees.put(_tree(OUT / f"tree-{number}"))
    results: dict[str, dict[str, object]] = {}
    for module in modules:
        tests = tuple(test for test in MODULES[module] if (PROJECT_ROOT / test).exists())
        baseline_tree = trees.get()
        started = time.monotonic()
        baseline = _run_tests(baseline_tree, tests, timeout=1800)
        trees.put(baseline_tree)
        if baseline != "survived":
            raise SystemExit(f"mutation: the tests of {module} fail before any mutation ({' '.join(tests)})")
        timeout = max(60.0, 4 * (time.monotonic() - started))
        source = (PROJECT_ROOT / module).read_text()

        def check(
            mutant: Mutant, source: str = source, tests: tuple[str, ...] = tests, timeout: float = timeout
        ) -> str:
            tree = trees.get()
            try:
                (tree / mutant.module).write_text(mutate(source, mutant.index, mutant.variant))
                return _run_tests(tree, tests, timeout)
            finally:
                (tree / mutant.module).write_text(source)
                trees.put(tree)

        listed = mutants(module)
        with ThreadPoolExecutor(workers) as pool:
            outcomes = list(pool.map(check, listed))
        survivors = [
            f"{m.module}:{m.line}: {m.change}" for m, o in zip(listed, outcomes, strict=True) if o == "survived"
        ]
        killed = sum(outcome != "survived" for outcome in outcomes)
        results[module] = {
            "mutants": len(listed),
            "killed": killed,
            "timeouts": outcomes.count("timeout"),
            "score": round(100 * killed / len(listed), 1) if listed else 100.0,
            "survivors": survivors,
        }
        print(f"{module}: {killed}/{len(listed)} killed ({results[module]['score']}%)", flush=True)
    return results


def table(results: dict[str, dict[str, object]]) -> str:
    lines = ["| module | mutants | killed | of which timeouts | score |", "| --- | --- | --- | --- | --- |"]
    for module, found in results.items():
        lines.append(
            f"| `{module}` | {found['mutants']} | {found['killed']} | {found['timeouts']} | {found['score']}% |"
        )
    return "\n".join(lines)


START = "<!-- mutation:start -->"
END = "<!-- mutation:end -->"


def write_table(page: Path, results: dict[str, dict[str, object]]) -> None:
    """Put the table, with when and where it was measured, between the page's markers."""
    uname = os.uname()
    when = time.strftime("%Y-%m-%d")
    text = page.read_text()
    head, found, rest = text.partition(START)
    _, found_end, tail = rest.partition(END)
    if not (found and found_end):
        raise SystemExit(f"mutation: {page} has no {START} ... {END} markers")
    note = (
        f"Command: `make mutation`. Machine: {os.cpu_count()} cores, {uname.sysname} {uname.release}, "
        f"Python {sys.version.split()[0]}. Date: {when}."
    )
    page.write_text(f"{head}{START}\n{table(results)}\n\n{note}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", choices=sorted(MODULES), help="only these modules")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--write", type=Path, help="put the table in this page (docs/testing.md) after a full run")
    parser.add_argument("--results", type=Path, help="take the results of an earlier run instead of running")
    args = parser.parse_args(argv)
    modules = args.module or list(MODULES)
    if args.list:
        for module in modules:
            for mutant in mutants(module):
                print(f"{mutant.module}:{mutant.line}: {mutant.change}")
        return 0
    if args.results is not None:
        results = json.loads(args.results.read_text())
    else:
        OUT.mkdir(parents=True, exist_ok=True)
        results = run(modules, max(1, args.workers))
        (OUT / "results.json").write_text(json.dumps(results, indent=2))
    if args.write is not None:
        write_table(args.write, results)
    print(table(results))
    for found in results.values():
        for survivor in found["survivors"]:
            print(f"survived: {survivor}")
    below = [module for module, found in results.items() if float(found["score"]) < 90]
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
