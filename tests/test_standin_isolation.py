"""The stand-in education system (skolsam.standin) stays apart: production code never imports it.

Production is every module of the package except the stand-in itself and the local tooling that runs it
(the demo, the benchmark, the ``extract``/``ss12000-serve`` commands), which may import it only inside a
function, when that tool runs. DAG files and plugins never import it at all.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "skolsam"
TOOLING = {"skolsam.demo", "skolsam.bench", "skolsam.commands.extract", "skolsam.commands.ss12000_serve"}
TOOLING_PACKAGES = ("skolsam.bench.",)  # every module of the bench package is tooling too


def _tooling(module: str) -> bool:
    return module in TOOLING or module.startswith(TOOLING_PACKAGES)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _standin_imports(path: Path, module: str) -> list[tuple[int, bool]]:
    """(line, at module level) of every import of skolsam.standin in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top_level = {id(n) for n in tree.body}
    for node in tree.body:  # imports under a top-level if/try still run at import time
        if isinstance(node, (ast.If, ast.Try)):
            top_level |= {id(n) for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        if any(n == "skolsam.standin" or n.startswith("skolsam.standin.") for n in names):
            found.append((node.lineno, id(node) in top_level))
    return found


def _production_files() -> list[tuple[Path, str]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        if module == "skolsam.standin" or module.startswith("skolsam.standin."):
            continue
        out.append((path, module))
    return out


def test_the_scan_sees_a_standin_import():
    """The scan itself: it finds absolute and relative imports, and tells module level from a function."""
    tooling = PACKAGE / "commands" / "extract.py"
    assert any(not top for _, top in _standin_imports(tooling, "skolsam.commands.extract"))
    bench = PACKAGE / "standin" / "bench.py"
    assert _standin_imports(bench, "skolsam.standin.bench")  # `from .running import ...` resolved


def test_production_modules_never_import_the_standin():
    offenders = []
    for path, module in _production_files():
        for line, top in _standin_imports(path, module):
            if not _tooling(module) or top:
                offenders.append(f"{path.relative_to(ROOT)}:{line}")
    for folder in ("dags", "plugins"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            if "skolsam.standin" in text or "from skolsam import standin" in text:
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_importing_every_production_module_leaves_the_standin_unloaded():
    modules = sorted(m for _, m in _production_files() if not _tooling(m))
    assert "skolsam.ss12000.extract" in modules and "skolsam.airflow.ss12000_hook" in modules
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "loaded = sorted(m for m in sys.modules if m == 'skolsam.standin' or m.startswith('skolsam.standin.'))\n"
        "print('STANDIN', loaded)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "STANDIN []" in proc.stdout
