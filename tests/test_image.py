"""The Docker image's files. Docker cannot build the image here (no daemon, and no registry for
its base image), so this checks what can be checked without it: the files the Dockerfile's
`COPY . .` puts in the image (the project less `.dockerignore`, matched as Docker matches it)
hold the whole app, and a server started from a copy of just those files, with no dataset and no
pretrained-weights cache, answers the load test's strokes, game and photo uploads."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from browser_support import ROOT, free_port, start_server
from tests import load


def dockerignore_rules(lines: list[str]) -> list[tuple[bool, re.Pattern]]:
    """(negated, pattern) per rule of a .dockerignore, in Docker's syntax: paths from the build
    context's root, `*` and `?` within one path element, `**` across any number of them, `!`
    to keep again what an earlier rule left out; the last rule that matches decides."""
    rules = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated, line = line.startswith("!"), line.lstrip("!").strip().strip("/")
        regex, i = "", 0
        while i < len(line):
            if line.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif line.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif line[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif line[i] == "?":
                regex, i = regex + "[^/]", i + 1
            else:
                regex, i = regex + re.escape(line[i]), i + 1
        rules.append((negated, re.compile(regex)))
    return rules


def left_out(path: str, rules: list[tuple[bool, re.Pattern]]) -> bool:
    """Whether Docker leaves `path` out of the build context: a rule matches the path or one of
    the folders above it (a left-out folder takes its files with it)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    result = False
    for negated, pattern in rules:
        if any(pattern.fullmatch(prefix) for prefix in prefixes):
            result = not negated
    return result


def image_files() -> list[str]:
    """The project's files (as a clean clone has them) that go into the image."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.splitlines()
    rules = dockerignore_rules((ROOT / ".dockerignore").read_text().splitlines())
    return [path for path in tracked if not left_out(path, rules)]


def test_dockerignore_rules_match_as_docker_matches_them():
    rules = dockerignore_rules(["# comment", "docs", "**/__pycache__", "*.pyc",
                                ".streamlit/secrets.toml", "/data/", "!docs/keep.md"])
    assert left_out("docs/deploy.md", rules) and left_out("docs/screenshots/a.png", rules)
    assert left_out("vision/__pycache__/x.cpython-311.pyc", rules)
    assert left_out("__pycache__/a.pyc", rules) and left_out("a.pyc", rules)
    assert not left_out("vision/a.pyc", rules)  # `*` stays in the top folder, as in Docker
    assert left_out("data/board.sqlite3", rules) and not left_out("vision/data.py", rules)
    assert left_out(".streamlit/secrets.toml", rules)
    assert not left_out(".streamlit/config.toml", rules)
    assert not left_out("docs/keep.md", rules)  # kept again by the later `!` rule
    assert not left_out("docsx/a.md", rules)


def test_the_image_holds_the_app_its_weights_and_config_not_the_tests():
    files = set(image_files())
    weights = {path for path in subprocess.run(["git", "ls-files", "weights"], cwd=ROOT,
                                               capture_output=True, text=True).stdout.split()}
    assert {"app.py", "requirements.txt", ".streamlit/config.toml", "ui/canvas.js",
            "ui/page_icon.png", "deploy/nginx.conf"} <= files
    assert any(path.endswith(".keras") for path in weights) and weights <= files
    assert any(path.startswith("samples/") for path in files)
    assert not any(path.startswith(("tests/", "docs/", ".ci/")) for path in files)


@pytest.mark.browser
def test_a_server_from_the_images_files_alone_answers_strokes_games_and_uploads(tmp_path):
    app = tmp_path / "app"
    for path in image_files():
        (app / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, app / path)
    empty = {name: str(tmp_path / name) for name in ("data", "keras", "fashion-mnist")}
    for folder in empty.values():
        (tmp_path / folder).mkdir()
    port = free_port()
    server = start_server(port, root=app, env={
        "VISION_LAB_DATA": empty["data"], "KERAS_HOME": empty["keras"],
        "FASHION_MNIST_DIR": empty["fashion-mnist"]})
    url = f"http://127.0.0.1:{port}"
    try:
        for scenario in ("doodle", "play", "flowers"):
            (level,) = load.main(["--url", url, "--server-pid", str(server.pid), "--scenario",
                                  scenario, "--levels", "1", "--seconds", "8", "--pause", "0.5,1"])
            results = [outcome.result for outcome in level.outcomes]
            assert results.count("ok") >= 2, (scenario, results, level.details)
            assert results.count("error") == results.count("timeout") == 0, (scenario, level.details)
            assert results.count("lost") == 0, (scenario, level.details)
    finally:
        server.kill()
        server.wait(timeout=20)
        print(server.log_path.read_text()[-3000:])
        server.log_path.unlink(missing_ok=True)
