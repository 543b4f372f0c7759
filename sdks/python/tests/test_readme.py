from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def test_the_readme_snippet_publishes_and_consumes(broker):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    assert len([line for line in snippet.splitlines() if line.strip()]) < 10, "keep the snippet under ten lines"
    program = snippet.replace("http://127.0.0.1:8080", broker.url)
    run = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "{'id': 42}"
