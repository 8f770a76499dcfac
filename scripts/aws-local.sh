# Sourced by scripts/test and scripts/dev: installs moto's server into a virtual environment that
# this project owns (.venv), starts it on a free loopback port, and stops it when the caller exits.
MOTO_VERSION="5.2.5"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_root/.venv"

install_moto() {
  if [ ! -x "$venv/bin/moto_server" ] || ! "$venv/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
    echo "==> installing moto[server]==$MOTO_VERSION into .venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  fi
}

# cfn-lint and the SAM CLI, for validating infra/template.yaml offline; aws-sam-translator (the
# SAM CLI's own transform library, pinned to the version that SAM CLI release ships with) for
# scripts/sam_translate.py, which tests/api/deployment/ runs; openapi-spec-validator (also a
# moto dependency, pinned here) for docs/openapi.yaml.
CFN_LINT_VERSION="1.58.0"
SAM_CLI_VERSION="1.170.0"
SAM_TRANSLATOR_VERSION="1.115.0"
OPENAPI_SPEC_VALIDATOR_VERSION="0.9.0"
# (grep reads to the end, not -q: under pipefail a writer cut off by an early exit fails the check.)
install_template_tools() {
  if ! "$venv/bin/cfn-lint" --version 2>/dev/null | grep "$CFN_LINT_VERSION" >/dev/null \
    || ! "$venv/bin/sam" --version 2>/dev/null | grep "$SAM_CLI_VERSION" >/dev/null \
    || ! "$venv/bin/pip" show aws-sam-translator 2>/dev/null | grep "^Version: $SAM_TRANSLATOR_VERSION$" >/dev/null \
    || ! "$venv/bin/pip" show openapi-spec-validator 2>/dev/null | grep "^Version: $OPENAPI_SPEC_VALIDATOR_VERSION$" >/dev/null; then
    echo "==> installing cfn-lint==$CFN_LINT_VERSION, aws-sam-cli==$SAM_CLI_VERSION, aws-sam-translator==$SAM_TRANSLATOR_VERSION and openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION into .venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION" "aws-sam-cli==$SAM_CLI_VERSION" "aws-sam-translator==$SAM_TRANSLATOR_VERSION" "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION"
  fi
}

# checkov (IaC scanner) and parliament (IAM policy linter), for scripts/test's scans of
# infra/template.yaml (scripts/iam-lint). Their own virtual environment (.venv-scan): checkov pins
# boto3 and others below what the SAM CLI in .venv needs.
CHECKOV_VERSION="3.3.30"
PARLIAMENT_VERSION="1.6.4"
scan_venv="$repo_root/.venv-scan"
install_scan_tools() {
  if ! "$scan_venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('checkov') != '$CHECKOV_VERSION' or m.version('parliament') != '$PARLIAMENT_VERSION')" 2>/dev/null; then
    echo "==> installing checkov==$CHECKOV_VERSION and parliament==$PARLIAMENT_VERSION into .venv-scan"
    python3 -m venv "$scan_venv"
    "$scan_venv/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION" "parliament==$PARLIAMENT_VERSION"
  fi
}

# cargo-lambda (from PyPI; it brings zig), for `sam build` (scripts/sam-build): only when a build
# is asked for, since scripts/test's other steps do not need it.
CARGO_LAMBDA_VERSION="1.9.2"
install_build_tools() {
  if ! "$venv/bin/cargo-lambda" lambda --version 2>/dev/null | grep -q "$CARGO_LAMBDA_VERSION"; then
    echo "==> installing cargo-lambda==$CARGO_LAMBDA_VERSION into .venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_moto [port [state-file]]: exports AWS_ENDPOINT_URL and dummy credentials for the SDK.
# With a state file, moto's data survives restarts (see scripts/moto_server.py).
start_moto() {
  local port="${1:-$(free_port)}"
  local state="${2:-}"
  local log="${MOTO_LOG:-$repo_root/target/moto.log}"
  mkdir -p "$(dirname "$log")"
  [ -z "$state" ] || mkdir -p "$(dirname "$state")"
  # moto's own app, one request at a time (see scripts/moto_server.py for why).
  MOTO_PORT="$port" "$venv/bin/python" -u "$repo_root/scripts/moto_server.py" 127.0.0.1 "$port" ${state:+"$state"} >"$log" 2>&1 &
  MOTO_PID=$!
  # Callers that start more replace the EXIT trap with one that also calls stop_moto.
  trap stop_moto EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  for _ in $(seq 1 600); do
    if grep -q "^moto ready" "$log" 2>/dev/null; then break; fi
    if ! kill -0 "$MOTO_PID" 2>/dev/null; then echo "moto_server failed to start; see $log" >&2; cat "$log" >&2; return 1; fi
    sleep 0.1
  done
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
  export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  grep -q "^moto ready" "$log" || { echo "moto_server did not become ready; see $log" >&2; return 1; }
  grep "^moto: replayed" "$log" || true
  echo "==> moto_server (pid $MOTO_PID) at $AWS_ENDPOINT_URL"
}

stop_moto() {
  if [ -n "${MOTO_PID:-}" ] && kill -0 "$MOTO_PID" 2>/dev/null; then
    kill "$MOTO_PID" 2>/dev/null
    wait "$MOTO_PID" 2>/dev/null
  fi
  MOTO_PID=""
}

# start_gateway NAME LOG: the local gateway (target/debug/local-gateway, which the caller builds)
# on a free loopback port, on a table and pepper secret of its own (NAME-<pid>-<random>), against
# the AWS endpoint already exported (start_moto). Sets GATEWAY_URL and GATEWAY_PID; the caller
# stops it with stop_gateway (in its EXIT trap).
start_gateway() {
  local name="$1" log="$2"
  export TABLE_NAME="$name-$$-$RANDOM"
  export API_KEY_PEPPER_SECRET_ID="$TABLE_NAME-pepper"
  export PORT="$(free_port)"
  "$repo_root/target/debug/local-gateway" setup
  "$repo_root/target/debug/local-gateway" serve >"$log" 2>&1 &
  GATEWAY_PID=$!
  for _ in $(seq 1 100); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null; then break; fi
    kill -0 "$GATEWAY_PID" 2>/dev/null || { echo "the local gateway failed to start; see $log" >&2; cat "$log" >&2; return 1; }
    sleep 0.1
  done
  GATEWAY_URL="http://127.0.0.1:$PORT"
}

stop_gateway() {
  if [ -n "${GATEWAY_PID:-}" ] && kill -0 "$GATEWAY_PID" 2>/dev/null; then
    kill "$GATEWAY_PID" 2>/dev/null || true
    wait "$GATEWAY_PID" 2>/dev/null || true
  fi
  GATEWAY_PID=""
}
