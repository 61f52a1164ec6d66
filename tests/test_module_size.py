"""Modules that fit in a head: no module of the installed packages is over MAX_LINES lines (ruff's C901 keeps each
function's complexity at 15 or under, pyproject.toml). A module that grows past it is split by what it does."""
from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# the packages Dalil installs (pyproject.toml, [tool.setuptools.packages.find]); tests and benchmarks are not held to it
PACKAGES = [name.rstrip("*") for name in
            tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"]
            ["find"]["include"]]
MAX_LINES = 400


def test_no_module_is_over_400_lines():
    too_long = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            name = path.relative_to(ROOT).as_posix()
            if lines > MAX_LINES:
                too_long[name] = lines
    assert not too_long, f"modules over {MAX_LINES} lines (split them by what they do): {too_long}"
