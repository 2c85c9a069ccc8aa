"""The mutation runner's mutants: each operator where it applies, and nowhere it must not."""

from __future__ import annotations

import ast

from tools import mutation

SOURCE = '''"""Module docstring."""

from __future__ import annotations

LIMIT: int = 4
"""An attribute docstring."""
ROWS = (("", "secrets", ("get", "list")), ("apps", "deployments", ("create",)))


def fits(count: int, size: float) -> bool:
    """Function docstring."""
    if not count or count >= LIMIT and size < 2.5:
        return min(count, 3) == 1
    return f"{count} is {size}" in ("a", "b") or True
'''


def changes() -> list[str]:
    return [change for _, _, _, change in mutation.points(SOURCE)]


def test_every_operator_finds_its_places() -> None:
    found = changes()
    for expected in (
        "GtE -> Gt",
        "Lt -> LtE",
        "Eq -> NotEq",
        "In -> NotIn",
        "And -> Or",
        "Or -> And",
        "drop Not",
        "4 -> 5",
        "2.5 -> 3.5",
        "True -> False",
        "min -> max",
        "'secrets' spoiled",
    ):
        assert expected in found, (expected, found)
    # Each row of the table, and each verb of a row, can be removed.
    assert found.count("remove element 1") >= 3 and "remove element 2" in found


def test_docstrings_annotations_and_f_strings_are_left_alone() -> None:
    found = " ".join(changes())
    assert "docstring" not in found
    assert "'int'" not in found and "'bool'" not in found
    assert " is " not in found


def test_each_mutant_is_valid_python_that_differs_from_the_source() -> None:
    original = ast.dump(ast.parse(SOURCE))
    for index, variant, _, change in mutation.points(SOURCE):
        mutated = mutation.mutate(SOURCE, index, variant)
        assert ast.dump(ast.parse(mutated)) != original, change


def test_removing_a_row_removes_exactly_that_row() -> None:
    index, variant = next(
        (index, variant)
        for index, variant, _, change in mutation.points(SOURCE)
        if change == "remove element 2"
        and "ROWS" in mutation.mutate(SOURCE, index, variant)
        and "deployments" not in mutation.mutate(SOURCE, index, variant)
    )
    namespace: dict[str, object] = {}
    exec(compile(mutation.mutate(SOURCE, index, variant), "m", "exec"), namespace)
    assert namespace["ROWS"] == (("", "secrets", ("get", "list")),)


def test_every_module_the_issue_names_is_measured_with_tests_that_exist() -> None:
    named = {
        "components/ground/cidrs.py",
        "components/ground/quantities.py",
        "components/ground/sizing.py",
        "components/ground/cost.py",
        "policies/kubepar_policies/rbac.py",
    }
    assert named <= set(mutation.MODULES)
    for module, tests in mutation.MODULES.items():
        assert (mutation.PROJECT_ROOT / module).is_file(), module
        assert tests and all((mutation.PROJECT_ROOT / test).is_file() for test in tests), module
