"""The results table of the shipped models, generated from `weights/MODEL.json`:
`python -m vision.results` prints it, `--update-readme` writes it into README.md."""

from __future__ import annotations

import argparse
import json

from vision.data import PROJECT_ROOT
from vision.registry import MODELS, get_dataset

START, END = "<!-- results:start -->", "<!-- results:end -->"


def results_table() -> str:
    """A Markdown table: one row per trained model with its test figures."""
    rows = ["| model | dataset | parameters | test accuracy | macro F1 | epochs | training time |",
            "|---|---|---:|---:|---:|---:|---:|"]
    for spec in MODELS.values():
        if not spec.metrics_path.is_file():
            continue
        facts = json.loads(spec.metrics_path.read_text(encoding="utf-8"))
        per_class = facts["test"]["per_class"]
        macro_f1 = sum(row["f1"] for row in per_class) / len(per_class)
        rows.append(
            f"| `{spec.name}` | {get_dataset(spec.dataset).title} | {facts['parameters']:,} "
            f"| {facts['test']['accuracy']:.4f} | {macro_f1:.4f} | {facts['epochs_run']} "
            f"| {facts['training_seconds'] / 60:.1f} min |")
    return "\n".join(rows)


def update_readme() -> None:
    readme = PROJECT_ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{results_table()}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m vision.results", description=__doc__.split("\n")[0])
    parser.add_argument("--update-readme", action="store_true", help="write the table into README.md")
    if parser.parse_args().update_readme:
        update_readme()
    print(results_table())
