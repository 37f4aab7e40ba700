"""The layout keeps its promises: the engine never imports the window or Qt, SQL is written
only in the store, C types only in the llama.cpp bindings, every module is on the module
map, and every command and option of the command line is documented."""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if p.name != "__init__.py")


def _imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_never_imports_qt_or_the_window() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in _imported_names(path)
            if name.split(".")[0] in {"PySide6", "shiboken6", "app"}
        )
        for path in _modules("core")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_importing_every_engine_module_loads_no_qt() -> None:
    modules = [
        ".".join(path.relative_to(ROOT).with_suffix("").parts) for path in _modules("core")
    ]
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'app')))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"


# SQL as it is written, not as prose names it: a statement's keywords in capitals with the
# words that make them a statement.
_SQL = re.compile(
    r"\bSELECT\b.*\bFROM\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b|"
    r"\bDELETE\s+FROM\b|\bCREATE\s+(VIRTUAL\s+|UNIQUE\s+)?(TABLE|INDEX|TRIGGER|VIEW)\b|"
    r"\bDROP\s+(TABLE|INDEX)\b|\bPRAGMA\s+\w+|\bMATCH\s+\?",
    re.DOTALL,
)


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def sql_in(source: str) -> list[str]:
    """The string literals of ``source`` (docstrings aside) that hold SQL; the pieces of an
    f-string are read together.

    >>> sql_in("q = f'SELECT id FROM {table}'; note = 'select the file from the list'")
    ['SELECT id FROM ']
    """
    tree = ast.parse(source)
    skip = _docstrings(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values
                           if isinstance(v, ast.Constant) and isinstance(v.value, str))
            skip.update(id(v) for v in node.values)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in skip):
            text = node.value
        else:
            continue
        if _SQL.search(text):
            found.append(text)
    return found


def test_sql_is_written_only_in_the_store() -> None:
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in _modules("core") + _modules("app")
        if "store" not in path.relative_to(ROOT).parts[:2]
        and (found := sql_in(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, "move these queries into core/store/"


def test_the_sql_check_finds_sql_and_not_prose() -> None:
    assert sql_in('x = "SELECT c.id FROM chunks c"') == ["SELECT c.id FROM chunks c"]
    assert sql_in('x = ("UPDATE files SET state = ?" "")') != []
    assert sql_in("conn.execute(f'DELETE FROM {table} WHERE id = ?')") != []
    assert sql_in('def f():\n    """SELECT rows FROM the table, in prose."""') == []
    assert sql_in('label = "Select a folder from your files"') == []


BINDINGS = ROOT / "core" / "models" / "llama" / "bindings.py"


def c_level_uses(source: str) -> list[str]:
    """What in ``source`` works at the C level: importing ctypes, numpy's views on C memory
    (``.ctypes``, ``np.ctypeslib``), or llama-cpp-python's private modules (``_ggml``, its
    library loader). llama-cpp-python's public functions are ordinary calls and may be used.

    >>> c_level_uses("import ctypes\nfrom llama_cpp import _ggml\nx = a.ctypes.data")
    ['import ctypes', 'llama_cpp._ggml', '.ctypes']
    """
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] == "ctypes"]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] == "ctypes":
                found.append(f"from {node.module}")
            elif node.module.startswith("llama_cpp._"):
                found.append(node.module)
            elif node.module == "llama_cpp":
                found += [f"llama_cpp.{a.name}" for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Attribute) and node.attr in ("ctypes", "ctypeslib"):
            found.append(f".{node.attr}")
    return found


def test_c_types_are_declared_only_in_the_bindings() -> None:
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in _modules("core") + _modules("app")
        if path != BINDINGS and (found := c_level_uses(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, "move these into core/models/llama/bindings.py"
    assert c_level_uses(BINDINGS.read_text(encoding="utf-8"))  # the check sees what it forbids


def test_the_c_level_check_finds_each_kind() -> None:
    assert c_level_uses("import ctypes") == ["import ctypes"]
    assert c_level_uses("from ctypes import c_int") == ["from ctypes"]
    assert c_level_uses("from llama_cpp import _ctypes_extensions") == [
        "llama_cpp._ctypes_extensions"]
    assert c_level_uses("rows = np.ctypeslib.as_array(p, shape=(2,))") == [".ctypeslib"]
    assert c_level_uses("import llama_cpp\nllama_cpp.llama_decode(ctx, batch)") == []


def test_every_module_is_on_the_module_map() -> None:
    rows = (ROOT / "docs" / "modules.md").read_text(encoding="utf-8").splitlines()
    missing = []
    for path in _modules("core") + _modules("app"):
        relative = path.relative_to(ROOT).as_posix()
        package_row = f"`{path.parent.relative_to(ROOT).as_posix()}/`"
        listed = any(f"`{relative}`" in row for row in rows) or any(
            package_row in row and re.search(rf"`{path.stem}`", row) for row in rows
        )
        if not listed:
            missing.append(relative)
    assert missing == [], "add these to docs/modules.md"


def _commands_and_options(parser: argparse.ArgumentParser, prefix: str = "") -> set[str]:
    found = {prefix} if prefix else set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found |= _commands_and_options(sub, f"{prefix} {name}".strip())
        else:
            found.update(f"{prefix}|{option}" for option in action.option_strings
                         if option.startswith("--") and option != "--help")
    return found


def test_every_command_and_option_is_documented() -> None:
    from core.cli.main import build_parser

    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    undocumented = []
    for item in sorted(_commands_and_options(build_parser())):
        command, _, option = item.partition("|")
        if option:
            if option not in doc:
                undocumented.append(f"{command} {option}".strip())
        elif f"kenning {command}" not in doc:
            undocumented.append(command)
    assert undocumented == [], "document these in docs/cli.md"
