"""House rules that keep the layers apart (see shared DESIGN.md)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_tlcore_never_imports_streamlit() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "tlcore").rglob("*.py")
        if any(
            line.strip().startswith(("import streamlit", "from streamlit"))
            for line in p.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert offenders == []


def test_importing_tlcore_and_its_cli_does_not_import_tensorflow() -> None:
    code = (
        "import sys, tlcore, tlcore.cli, tlcore.config, tlcore.workspace; "
        "tlcore.cli.build_parser(); print('tensorflow' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0].strip() for b in readme.split("```bash\n")[1:]]
    run_app, run_tests = blocks[0], blocks[1]
    assert run_app.endswith("streamlit run app.py")
    assert "pytest" in run_tests
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert run_tests in ci_lines


# The rooms of tlcore, lowest first; a module may import its own room and lower ones.
LAYERS = ["shared", "data", "models", "training", "runs", "results", "cli"]
SHARED = {"errors", "registry", "workspace", "fsutil", "config"}


def _room(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in SHARED or parts[1] == "__main__":
        return "cli" if parts[-1] == "__main__" else "shared"
    return parts[1]


def _tlcore_imports(package: str = "tlcore") -> dict[str, set[str]]:
    """Every module of ``package`` -> the modules of it that it imports (function-level
    ones too)."""
    import ast

    graph: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith(package)}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(package):
                for a in node.names:  # `from tlcore.runs import store` imports a module
                    sub = f"{node.module}.{a.name}"
                    is_module = (ROOT / (sub.replace(".", "/") + ".py")).is_file()
                    found.add(sub if is_module else node.module)
        graph[name] = found - {name}
    return graph


def test_no_room_imports_a_higher_room() -> None:
    offenders = [
        f"{mod} -> {dep}"
        for mod, deps in _tlcore_imports().items()
        for dep in deps
        if dep != "tlcore" and LAYERS.index(_room(dep)) > LAYERS.index(_room(mod))
    ]
    assert offenders == []


def _cycles(package: str) -> list[list[str]]:
    graph = _tlcore_imports(package)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if dep.startswith(f"{package}.") and dep.count(".") == 1 and dep not in graph:
                continue
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep) :], dep] if dep in path else [node, dep])
            elif dep in graph and dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    # The package root re-exports lazily (by name) and is no edge of the graph.
    return [c for c in cycles if package not in c]


def test_no_import_cycle_in_tlcore() -> None:
    assert _cycles("tlcore") == []


def test_no_import_cycle_in_the_app_modules() -> None:
    assert _cycles("ui") == []


def test_every_room_says_what_it_is_for() -> None:
    for room in LAYERS[1:]:
        doc = (ROOT / "tlcore" / room / "__init__.py").read_text(encoding="utf-8")
        assert doc.startswith('"""') and "import" in doc, room
