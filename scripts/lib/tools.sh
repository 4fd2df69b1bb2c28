# Sourced by scripts/test and scripts/test-artifacts (which define log): Python 3 with venv and
# Node with npm, installed with apt-get only when missing (the last resort).

PYTHON="${PYTHON:-python3}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    log "no python3: installing it with apt-get (last resort)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
fi
if ! "$PYTHON" -m venv --help >/dev/null 2>&1 || ! "$PYTHON" -c 'import ensurepip' >/dev/null 2>&1; then
    log "python3 cannot make a venv: installing python3-venv with apt-get (last resort)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi
if ! command -v npm >/dev/null 2>&1; then
    log "no node/npm: installing them with apt-get (last resort)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

