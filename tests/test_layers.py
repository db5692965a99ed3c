"""The layers, read from the imports: the core knows no HTTP, queue or screen.

* the domain core (``service`` but for ``service.app``, ``service.api`` and ``service.web``)
  imports none of Flask, Celery, the API, the worker or the dashboard;
* the dashboard does not import the JSON API; the worker imports neither face;
* ``service.app`` (the composition root) may import everything.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FACES_AND_ROOT = ("service.app", "service.api", "service.web")
WEB_LIBRARIES = (
    "flask",
    "flask_login",
    "flask_wtf",
    "flask_limiter",
    "htmx_flask",
    "celery",
    "celery_batches",
)
RULES = {
    "core": ("worker", "dashboard", *FACES_AND_ROOT, *WEB_LIBRARIES),
    "dashboard": ("service.api", "service.app"),
    "worker": ("dashboard", "service.api", "service.app", "service.web"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer_of(module: str) -> str | None:
    if within(module, "service.migrations"):
        return None  # Alembic's scripts, run by the composition root
    if within(module, "service") and not any(within(module, p) for p in FACES_AND_ROOT):
        return "core"
    top = module.split(".")[0]
    return top if top in ("dashboard", "worker") else None


def imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def forbidden(module: str, imported: str) -> bool:
    layer = layer_of(module)
    return layer is not None and any(within(imported, banned) for banned in RULES[layer])


def offences() -> list[str]:
    found = []
    for package in ("service", "worker", "dashboard"):
        for path in sorted((ROOT / package).rglob("*.py")):
            module = module_name(path)
            found += [f"{module} imports {name}" for name in imports(path) if forbidden(module, name)]
    return found


def test_no_layer_imports_what_it_must_not():
    assert offences() == []


@pytest.mark.parametrize(
    "module, imported",
    [  # the imports this test was written against (issue 15), each of which it must refuse
        ("service", "flask"),
        ("service", "dashboard"),
        ("service", "service.api"),
        ("service", "worker.celery_app"),
        ("service.accounts", "worker.scorers.spam.wordlists"),
        ("service.cli", "worker.training.attributes"),
        ("service.scoring_commands", "worker.scorers"),
        ("service.db", "flask"),
        ("service.health", "flask"),
        ("service.queue", "celery"),
        ("service.webhooks", "celery"),
        ("service.reporting.rollup", "worker.tasks"),
        ("dashboard.auth", "service.api.limits"),
        ("worker.tasks", "dashboard.queues"),
    ],
)
def test_the_rules_refuse_each_import_the_layers_once_had(module, imported):
    assert forbidden(module, imported)


def test_the_composition_root_may_import_everything():
    assert not forbidden("service.app.cli", "worker.training.attributes")
    assert not forbidden("service.app", "dashboard")


def test_importing_the_policy_loads_no_web_framework_or_queue():
    code = (
        "import sys, service.policy, service.moderation, service.reporting.volume\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(WEB_LIBRARIES)!r})))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
