"""A throwaway PostgreSQL cluster for the test run (Debian's `postgresql` package).

    python tests/postgres_server.py start DIR   # prints `export VISION_LAB_TEST_DATABASE_URL=...`
    python tests/postgres_server.py stop DIR

test.sh starts one before pytest and stops it after: a fresh cluster in DIR (initdb), listening
on 127.0.0.1 on a free port and on a socket in DIR, with one database. It never touches the
machine's own clusters. PostgreSQL refuses to run as root, so as root it runs as the `postgres`
user that the Debian package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATABASE = "vision_lab_test"
USER = "vision_lab"


def bin_dir() -> Path | None:
    """The newest installed PostgreSQL server's bin folder, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_folder() -> Path:
    """An empty folder for a cluster, in /tmp: the `postgres` user must be able to reach it
    (pytest's own temporary folders are private to root)."""
    return Path(tempfile.mkdtemp(prefix="vision-lab-postgres-"))


def start(folder: Path) -> str:
    """Start a cluster in `folder` and return the SQLAlchemy URL of its test database."""
    binaries = bin_dir()
    if binaries is None:
        raise RuntimeError("PostgreSQL is not installed: apt-get install -y postgresql")
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "data"
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
    for command in ([str(binaries / "initdb"), "-D", str(data), "-U", USER, "-A", "trust",
                     "-E", "UTF8", "--no-sync"],
                    [str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"),
                     "-o", options, "-w", "start"]):
        done = subprocess.run(_as_server_user(command), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        if done.returncode:
            raise RuntimeError(f"{Path(command[0]).name} failed: "
                               + done.stderr.decode(errors="replace")[-2000:])
    (folder / "port").write_text(str(port))
    for _ in range(50):
        done = subprocess.run(_as_server_user([str(binaries / "createdb"), "-h", str(folder), "-p",
                                               str(port), "-U", USER, DATABASE]),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if done.returncode == 0:
            break
        time.sleep(0.2)
    else:
        raise RuntimeError("createdb failed: " + done.stderr.decode(errors="replace"))
    return f"postgresql+psycopg://{USER}@127.0.0.1:{port}/{DATABASE}"


def stop(folder: Path) -> None:
    """Stop the cluster in `folder` and remove it."""
    binaries = bin_dir()
    if binaries is not None and (folder / "data" / "postmaster.pid").exists():
        subprocess.run(_as_server_user([str(binaries / "pg_ctl"), "-D", str(folder / "data"),
                                        "-m", "fast", "-w", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        sys.exit(__doc__)
    where = Path(sys.argv[2]).resolve()
    if sys.argv[1] == "start":
        print(f"export VISION_LAB_TEST_DATABASE_URL={start(where)}")
    else:
        stop(where)
