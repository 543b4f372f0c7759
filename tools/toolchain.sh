# Sourced by tools/run and .ci/run: puts Node 24 and pnpm (from the npm registry) first on PATH, installing them
# into .toolchain/ on first use. A fresh machine needs only an npm (any Node >= 18) to bootstrap.
toolchain_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
toolchain_dir="$toolchain_root/.toolchain"
node_version=24
pnpm_version=$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$toolchain_root/package.json")

if ! "$toolchain_dir/bin/node" --version 2>/dev/null | grep -q "^v$node_version\." ||
  ! "$toolchain_dir/bin/pnpm" --version 2>/dev/null | grep -qx "$pnpm_version"; then
  echo "toolchain: installing Node $node_version and pnpm $pnpm_version into .toolchain/ (from the npm registry)" >&2
  npm install --global --prefix "$toolchain_dir" --no-audit --no-fund --loglevel=error \
    "node@$node_version" "pnpm@$pnpm_version" >&2
  if ! "$toolchain_dir/bin/node" --version 2>/dev/null | grep -q "^v$node_version\."; then
    # npm 11 skips install scripts by default; the node package needs its own to fetch the binary.
    npm install --global --prefix "$toolchain_dir" --no-audit --no-fund --loglevel=error --allow-scripts=node \
      "node@$node_version" >&2
  fi
fi
export PATH="$toolchain_dir/bin:$PATH"
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
