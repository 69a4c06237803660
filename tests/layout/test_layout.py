"""The package's shape, checked: the import graph has no cycle, no module is long, the public API is what it says,
and the lint and type checks are clean (docs/architecture.md)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

import leakbench

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "leakbench"
MAX_LINES = 400
# Imports inside functions, each for a cost measured where it is (see the comment at each).
LAZY = {
    "leakbench.pytest_plugin.plugin",  # loaded in every pytest session: the run stack costs ~0.4 s (numpy, httpx)
    "leakbench.pytest_plugin.summary",  # the same: comparing with a baseline loads numpy
    "leakbench.reporters",  # the same: the plot loads matplotlib
    "leakbench.options.values",  # httpx, only when --drive is given
    "leakbench.commands.serve",  # the web stack, for this command only
    "leakbench.probes.pytarget",  # runs inside the target: imports there are the target's memory
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> tuple[set[str], list[int]]:
    """The package's modules ``path`` imports when it runs (type-checking-only imports left out), and the lines
    of those made inside a function."""
    name, found, inner = module_name(path), set(), []
    ancestors = {".".join(name.split(".")[:k]) for k in range(1, name.count(".") + 1)}

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.ImportFrom) and (child.module or "").startswith("leakbench") and not child.level:
                targets = [f"{child.module}.{a.name}" for a in child.names]
                targets = [t for t in targets if _is_module(t)] or [child.module or ""]
            elif isinstance(child, ast.Import):
                targets = [a.name for a in child.names if a.name.startswith("leakbench")]
            else:
                visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))
                continue
            if targets and in_function:
                inner.append(child.lineno)
            for target in targets:  # importing a.b.c runs a and a.b first
                parts = target.split(".")
                found.update({".".join(parts[:k]) for k in range(2, len(parts) + 1)} - ancestors - {name})

    visit(ast.parse(path.read_text()), False)
    return found, inner


def _is_module(dotted: str) -> bool:
    path = ROOT / dotted.replace(".", "/")
    return path.with_suffix(".py").exists() or path.is_dir()


def sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "pyinject" not in p.parts)


def test_the_package_has_no_import_cycle():
    graph = {module_name(p): imports_of(p)[0] for p in sources()}
    cycles, state = [], defaultdict(int)  # 0 unseen, 1 on the path, 2 done

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state[nxt] == 1:
                cycles.append(path[path.index(nxt) :] + [nxt])
            elif state[nxt] == 0:
                walk(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if state[node] == 0:
            walk(node, [node])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_the_cycle_check_sees_a_cycle(tmp_path, monkeypatch):
    """The check above can fail: two modules importing each other, one inside a function, are a cycle."""
    package = tmp_path / "leakbench"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from leakbench.b import g\n")
    (package / "b.py").write_text("def g():\n    from leakbench.a import x\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert imports_of(package / "a.py")[0] == {"leakbench.b"}
    assert imports_of(package / "b.py") == ({"leakbench.a"}, [2])


def test_imports_are_at_the_top_unless_their_cost_is_measured():
    inside = {module_name(p): lines for p in sources() if (lines := imports_of(p)[1])}
    assert set(inside) <= LAZY, {m: lines for m, lines in inside.items() if m not in LAZY}


def test_no_module_is_long():
    long = {str(p.relative_to(ROOT)): n for p in sources() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_the_public_api_is_pinned():
    assert sorted(leakbench.__all__) == sorted(
        ["Context", "LeakbenchError", "Outcome", "RunConfig", "Scenario", "Summary", "TargetError", "UsageError",
         "__version__", "build_config", "load_scenario", "run"]
    )  # fmt: skip
    for name in leakbench.__all__:
        assert getattr(leakbench, name) is not None, name
    assert callable(leakbench.run) and leakbench.RunConfig.__module__ == "leakbench.running.config"


def test_import_leakbench_alone_stays_light():
    """A target's interpreter and the CLI's --help import the package: the run stack loads on first use."""
    code = "import sys, leakbench; print(sorted(m for m in ('numpy', 'scipy', 'uvicorn', 'httpx') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"


def test_a_pytest_session_without_leak_tests_loads_no_run_stack():
    """Every pytest session of a project with leakbench installed loads the plugin: it must cost nothing there."""
    heavy = "('numpy', 'scipy', 'matplotlib', 'uvicorn', 'httpx', 'leakbench.running.run')"
    code = f"import sys, leakbench.pytest_plugin.plugin; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return found


def test_ruff_is_clean():
    done = subprocess.run([_tool("ruff"), "check", "--no-cache", "."], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_code_is_formatted():
    done = subprocess.run(
        [_tool("ruff"), "format", "--check", "--no-cache", "."], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_is_clean():
    done = subprocess.run([_tool("mypy"), "--no-incremental"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
