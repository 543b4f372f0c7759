# Sourced by the codegen scripts: installs the pinned code generator plugins for Go and Python into
# .toolchain/codegen (Go plugins from the Go module proxy, Python's protoc and Connect plugin from PyPI) on first
# use and puts them first on PATH. No remote buf plugins: generation works offline once these are installed.
codegen_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
codegen_dir="$codegen_root/.toolchain/codegen"
protoc_gen_go_version=v1.36.12
protoc_gen_connect_go_version=v1.21.1
grpcio_tools_version=1.85.1
connect_python_version=0.9.0
stamp="go:$protoc_gen_go_version,$protoc_gen_connect_go_version py:$grpcio_tools_version,$connect_python_version"

if [ "$(cat "$codegen_dir/stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "codegen: installing protoc-gen-go, protoc-gen-connect-go, grpcio-tools, protoc-gen-connect-python into .toolchain/codegen" >&2
  rm -rf "$codegen_dir"
  mkdir -p "$codegen_dir/bin" &&
    GOBIN="$codegen_dir/bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$protoc_gen_go_version" >&2 &&
    GOBIN="$codegen_dir/bin" go install "connectrpc.com/connect/cmd/protoc-gen-connect-go@$protoc_gen_connect_go_version" >&2 &&
    python3 -m venv "$codegen_dir/python" >&2 &&
    "$codegen_dir/python/bin/pip" install --quiet --disable-pip-version-check \
      "grpcio-tools==$grpcio_tools_version" "protoc-gen-connect-python==$connect_python_version" >&2 &&
    ln -sf ../python/bin/protoc-gen-connect-python "$codegen_dir/bin/protoc-gen-connect-python" &&
    ln -sf ../python/bin/python-grpc-tools-protoc "$codegen_dir/bin/protoc" &&
    echo "$stamp" >"$codegen_dir/stamp" || {
    echo "codegen: installing the plugins failed (needs go and python3 with venv, and the Go proxy and PyPI)" >&2
    return 1
  }
fi
export PATH="$codegen_dir/bin:$PATH"
