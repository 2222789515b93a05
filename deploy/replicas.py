"""Several app processes behind Debian's nginx on this machine, as compose.yaml runs them:
`python -m deploy.replicas [--replicas 2] [--port 8080] [--check]`.

Starts K `streamlit run app.py` replicas on free local ports and an nginx (`/usr/sbin/nginx`,
`sudo apt-get install -y nginx`) that serves `deploy/nginx.conf` on 127.0.0.1:PORT, with its
upstream pointed at those ports instead of compose's `app:8501`, and its files (pid, logs, temp)
in a temporary folder (removed when it stops). It prints the address and runs until Ctrl-C. `--check` only writes the
configuration and runs `nginx -t` on it. The access log (`routes.log` in that folder) has one
line per request: the session's route, the replica that answered, the status and the request.

The replicas share one class board: the `VISION_LAB_DATABASE_URL` of the environment (PostgreSQL
for real use), else the SQLite file of the data folder.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_CONF = ROOT / "deploy" / "nginx.conf"
COMPOSE_UPSTREAM = "server app:8501 max_fails=3 fail_timeout=10s;"
COMPOSE_LISTEN = "listen 80;"
MAIN_CONF = """\
# written by deploy/replicas.py: Debian's nginx, run by this user, its files in this folder
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format routes '$vision_lab_route $upstream_addr $status "$request"';
    access_log {folder}/routes.log routes;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/vision_lab.conf;
}}
"""


def nginx_binary() -> str:
    """Debian's nginx, or a plain message saying how to install it."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        raise SystemExit("nginx is not installed: sudo apt-get install -y nginx")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(folder: Path, port: int, replica_ports: list[int]) -> Path:
    """deploy/nginx.conf with the local upstream and port, and a main file around it; returns
    the main file's path."""
    text = SERVER_CONF.read_text()
    for expected in (COMPOSE_UPSTREAM, COMPOSE_LISTEN):
        if text.count(expected) != 1:  # the file changed: say so rather than test something else
            raise RuntimeError(f"deploy/nginx.conf no longer has exactly one {expected!r}")
    upstream = "\n    ".join(f"server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;" for p in replica_ports)
    text = text.replace(COMPOSE_UPSTREAM, upstream).replace(COMPOSE_LISTEN, f"listen 127.0.0.1:{port};")
    (folder / "vision_lab.conf").write_text(text)
    main = folder / "nginx.conf"
    main.write_text(MAIN_CONF.format(folder=folder))
    return main


def check_config(nginx: str, main: Path) -> str:
    """`nginx -t` on the written configuration; its report (raises when it fails)."""
    result = subprocess.run([nginx, "-t", "-c", str(main), "-p", str(main.parent),
                             "-e", str(main.parent / "error.log")], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError("nginx -t failed:\n" + result.stderr)
    return result.stderr.strip()


def wait_for_health(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer its health check in {timeout:.0f} s")


@dataclass
class Replicas:
    """What `running` started: nginx's address, each replica's, and the folder of nginx's files."""

    url: str
    replica_urls: list[str]
    folder: Path

    def routes(self) -> list[tuple[str, str, str]]:
        """(route, replica address, request) of each request nginx has logged so far."""
        lines = (self.folder / "routes.log").read_text().splitlines()
        return [(line.split(" ", 2)[0], line.split(" ", 2)[1], line.split(" ", 3)[3]) for line in lines]


@contextlib.contextmanager
def running(replicas: int = 2, port: int | None = None, timeout: float = 120,
            env: dict[str, str] | None = None) -> Iterator[Replicas]:
    """K replicas and nginx in front of them, stopped on exit."""
    nginx = nginx_binary()
    port = port or free_port()
    replica_ports = [free_port() for _ in range(replicas)]
    folder = Path(tempfile.mkdtemp(prefix="vision-lab-nginx-"))
    folder.chmod(0o755)  # nginx's workers (another user when run as root) reach their temp folders
    main = write_config(folder, port, replica_ports)
    check_config(nginx, main)
    # One cookie secret for all: a browser's XSRF cookie stays valid if it moves to another replica.
    shared = dict(os.environ, STREAMLIT_SERVER_COOKIE_SECRET=secrets.token_hex(16),
                  STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", **(env or {}))
    processes: list[subprocess.Popen] = []
    try:
        for replica_port in replica_ports:
            log = open(folder / f"replica-{replica_port}.log", "w")
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(replica_port),
                 "--server.address", "127.0.0.1", "--server.headless", "true"],
                cwd=ROOT, env=shared, stdout=log, stderr=subprocess.STDOUT))
            log.close()
        replica_urls = [f"http://127.0.0.1:{p}" for p in replica_ports]
        for url, process in zip(replica_urls, processes):
            wait_for_health(url, process, timeout)
        processes.append(subprocess.Popen([nginx, "-c", str(main), "-p", str(folder),
                                           "-e", str(folder / "error.log")]))
        url = f"http://127.0.0.1:{port}"
        wait_for_health(url, processes[-1], 20)
        yield Replicas(url, replica_urls, folder)
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--port", type=int, default=8080, help="nginx's port on 127.0.0.1")
    parser.add_argument("--check", action="store_true",
                        help="only write the configuration and run nginx -t on it")
    args = parser.parse_args()
    if args.check:
        folder = Path(tempfile.mkdtemp(prefix="vision-lab-nginx-"))
        print(check_config(nginx_binary(), write_config(folder, args.port,
                                                        [free_port() for _ in range(args.replicas)])))
        shutil.rmtree(folder)
        return
    # Ctrl-C, and also a plain `kill` (SIGTERM: a service manager, a script stopping it) or an
    # interrupt when started in the background (where a shell has SIGINT ignored), stop the
    # replicas and nginx too: Python's default for SIGTERM ends the process without them.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    with contextlib.suppress(KeyboardInterrupt), running(args.replicas, args.port) as started:
        print(f"Vision Lab at {started.url}: nginx in front of {', '.join(started.replica_urls)} "
              f"(nginx's files and logs: {started.folder}). Ctrl-C stops them.", flush=True)
        while True:
            time.sleep(3600)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
