from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SNIPPETS = re.findall(r"```python\n(.*?)```", (Path(__file__).parents[1] / "README.md").read_text(), re.S)


def run(snippet: str, url: str) -> str:
    assert len([line for line in snippet.splitlines() if line.strip()]) < 10, "keep a snippet under ten lines"
    program = snippet.replace("http://127.0.0.1:8080", url)
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_readme_has_the_publish_consume_and_error_snippets():
    assert len(SNIPPETS) == 2


@pytest.mark.parametrize(
    ("index", "printed"),
    [(0, "{'id': 42}"), (1, "invalid_argument topic.name")],
    ids=["publish and consume with ack", "an error's field"],
)
def test_a_readme_snippet_runs_as_written(broker, index, printed):
    assert run(SNIPPETS[index], broker.url) == printed
