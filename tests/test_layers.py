"""The house rule: imports point down, core <- audit <- signing <- identity <- delegation <-
agents (<- web), and no domain reaches into another's tables or routers."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["core", "audit", "signing", "identity", "delegation", "agents", "web"]


def imports_of(package: str) -> list[tuple[str, str]]:
    found = []
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((str(path.relative_to(ROOT)), node.module))
            elif isinstance(node, ast.Import):
                found += [(str(path.relative_to(ROOT)), alias.name) for alias in node.names]
    return found


def test_imports_only_point_down() -> None:
    for rank, package in enumerate(LAYERS):
        if not (ROOT / package).exists():
            continue
        above = set(LAYERS[rank + 1 :])
        for path, module in imports_of(package):
            assert module.split(".")[0] not in above, f"{path} imports {module}, a layer above"


def test_no_domain_imports_another_domains_router_or_tables() -> None:
    for package in LAYERS[1:]:
        if not (ROOT / package).exists():
            continue
        for path, module in imports_of(package):
            top, _, rest = module.partition(".")
            if top in LAYERS[1:] and top != package and package != "web":
                assert rest not in ("router", "models"), f"{path} imports {module}"
