#!/usr/bin/env bash
# Makes (once) the virtualenv that runs the Python SDK's tests and conformance adapter: sdks/python installed in
# editable mode with its test extras, from PyPI. Prints the venv's python path on stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/.toolchain/python-sdk"
stamp=$(sha256sum "$root/sdks/python/pyproject.toml" | cut -c1-16)
if [ "$(cat "$venv/stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "python-env: installing sdks/python[test] into .toolchain/python-sdk (from PyPI)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -e "$root/sdks/python[test]" >&2
  echo "$stamp" >"$venv/stamp"
fi
echo "$venv/bin/python"
