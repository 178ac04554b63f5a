"""A throwaway PostgreSQL server for the test suite, started from the installed binaries when no
DATABASE_URL is given. PostgreSQL refuses to run as root, so as root it runs as the `postgres` user."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN_CANDIDATES = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _bin(name: str) -> str:
    for folder in PG_BIN_CANDIDATES:
        if (folder / name).exists():
            return str(folder / name)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"PostgreSQL binary {name!r} not found: install postgresql")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowawayPostgres:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="suifang-pg-"))
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        self.proc: subprocess.Popen[bytes] | None = None

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> str:
        data = self.dir / "data"
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(
            _bin("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale"
        )
        cmd = [
            _bin("postgres"),
            "-D",
            str(data),
            "-p",
            str(self.port),
            "-k",
            str(self.dir),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    time.sleep(0.2)
                    return self.url
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("throwaway PostgreSQL did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
