"""A real `cebus serve` process per test (the repository's build, run by `node`), on a free port."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = ROOT / "packages" / "cli" / "dist" / "bin.js"
_names = itertools.count()


class Broker:
    def __init__(self, store: str, *args: str) -> None:
        self.store = store
        self.args = args
        self.port = "0"
        self.url = ""
        self.process: subprocess.Popen[str] | None = None
        self.start()

    def start(self) -> None:
        if not BIN.exists():
            pytest.fail(f"{BIN} is missing: build the repository first (pnpm build)")
        command = ["node", str(BIN), "serve", "--port", self.port, "--store", self.store, "--log-level", "info"]
        self.process = subprocess.Popen([*command, *self.args], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout
        for line in self.process.stdout:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("msg") == "cebus listening":
                self.url = record["url"]
                self.port = self.url.rsplit(":", 1)[1]
                return
        pytest.fail("the broker exited before reporting 'cebus listening'")

    def stop(self) -> None:
        if self.process:
            self.process.kill()
            self.process.wait()
            self.process = None

    def restart(self) -> None:
        """Kills the broker and starts it again on the same port and store."""
        self.stop()
        self.start()


@pytest.fixture
def broker():
    b = Broker("memory")
    yield b
    b.stop()


@pytest.fixture
def durable_broker(tmp_path):
    b = Broker(f"sqlite:{tmp_path}")
    yield b
    b.stop()


@pytest.fixture
def unique():
    return lambda prefix: f"{prefix}-{os.getpid()}-{next(_names)}"
