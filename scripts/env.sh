# Sourced by every script: one target dir outside the clone, shared by all builds and CI on
# this machine, so a second build is incremental; the wasm builder needs to be told where the
# workspace is when the target dir lives elsewhere.
OPENLEDGER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/openledger/target}"
export WASM_BUILD_WORKSPACE_HINT="${WASM_BUILD_WORKSPACE_HINT:-$OPENLEDGER_ROOT}"
# Incremental compilation is off in release builds anyway; keep cargo's output readable in CI.
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
OPENLEDGER_NODE="$CARGO_TARGET_DIR/release/openledger-node"

# Install what is missing and build the node binary (release, same target dir as the tests).
build_node() {
    OPENLEDGER_SETUP_PYTHON=0 "$OPENLEDGER_ROOT/scripts/setup"
    cargo build --release --locked -p openledger-node --manifest-path "$OPENLEDGER_ROOT/Cargo.toml"
}
