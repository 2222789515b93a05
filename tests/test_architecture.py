"""The shape of the house: imports go one way (pages -> ui -> vision), pages never load
TensorFlow to draw a picture, and only the registry knows the datasets by name."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VISION = sorted((ROOT / "vision").glob("*.py"))
UI = sorted((ROOT / "ui").glob("*.py"))
PAGES = sorted((ROOT / "pages").glob("*.py"))
# What a page may not import: the TensorFlow side of `vision` (it reaches models through ui.loaders)
TENSORFLOW_SIDE = ("tensorflow", "keras", "vision.explain", "vision.models", "vision.activations",
                   "vision.architectures", "vision.train")


def imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def under(names: set[str], *packages: str) -> set[str]:
    return {n for n in names if any(n == p or n.startswith(p + ".") for p in packages)}


@pytest.mark.parametrize("path", VISION, ids=lambda p: p.name)
def test_vision_imports_neither_streamlit_nor_ui_nor_pages(path):
    assert not under(imports(path), "streamlit", "ui", "pages")


@pytest.mark.parametrize("path", UI, ids=lambda p: p.name)
def test_ui_imports_no_page(path):
    assert not under(imports(path), "pages")


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_pages_leave_tensorflow_to_the_loaders(path):
    assert not under(imports(path), *TENSORFLOW_SIDE)


def test_what_the_pages_import_does_not_load_tensorflow():
    modules = sorted({name for page in PAGES for name in under(imports(page), "vision", "ui")
                      if (ROOT / Path(*name.split("."))).with_suffix(".py").is_file()
                      or (ROOT / Path(*name.split("."))).is_dir()})
    assert "ui.loaders" in modules and "vision.heatmaps" in modules
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
            + "; ".join(f"import {m}" for m in modules)
            + "; print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_no_module_branches_on_a_dataset_name():
    # Datasets are described once, in vision/registry.py (and their sources in vision/data.py).
    branch = re.compile(r"dataset\s*(==|!=|\bin\b\s*[(\[{])|==\s*\"(fashion_mnist|quickdraw|flowers|imagenet)\"")
    offenders = [f"{path.relative_to(ROOT)}:{number}"
                 for path in VISION + UI + PAGES if path.name != "registry.py"
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if branch.search(line)]
    assert not offenders, offenders


def test_the_study_modules_are_gone():
    for old in ("vision/study.py", "vision/insight.py", "vision/evaluate.py", "ui/study.py"):
        assert not (ROOT / old).exists(), old
