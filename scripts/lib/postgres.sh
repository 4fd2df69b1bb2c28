# Sourced by scripts/test and scripts/test-artifacts (which define ROOT, TARGET_DIR and log):
# exports DATABASE_URL. Uses $DATABASE_URL if set; else a server on 127.0.0.1:5432 (user
# postgres, trust); else starts a throwaway cluster under the target directory on a free port
# (installing PostgreSQL with apt-get only if no initdb can be found), and stops it on exit.
# IDENTITY_TEST_THROWAWAY_PG=1 forces the throwaway cluster (to test this script).

pg_usable() {
    local url="$1"
    if command -v psql >/dev/null 2>&1; then
        psql "$url" -Atqc 'SELECT 1' >/dev/null 2>&1
    else
        # no client: accept anything listening on the port
        local hostport="${url#*@}"; hostport="${hostport%%/*}"
        (exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}") 2>/dev/null
    fi
}

find_pg_bin() {
    local dir
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return 0
    fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

free_port() {
    local port
    for port in $(seq 54329 54429); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "no free port in 54329-54429" >&2
    return 1
}

PG_STARTED=""
stop_pg() {
    if [[ -n "$PG_STARTED" ]]; then
        log "stopping the throwaway PostgreSQL"
        as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
    fi
}
trap stop_pg EXIT

# initdb refuses to run as root: run the cluster as an unprivileged user then.
PG_USER=""
as_pg_user() {
    if [[ -n "$PG_USER" ]]; then
        runuser -u "$PG_USER" -- "$@"
    else
        "$@"
    fi
}

start_throwaway_pg() {
    if ! PG_BIN="$(find_pg_bin)"; then
        log "no initdb found: installing PostgreSQL with apt-get (last resort)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        PG_BIN="$(find_pg_bin)"
    fi
    if [[ "$(id -u)" == "0" ]]; then
        PG_USER="postgres"
        id -u "$PG_USER" >/dev/null 2>&1 || useradd --system --no-create-home "$PG_USER"
    fi
    local port base
    port="$(free_port)"
    base="$TARGET_DIR/pg-test"
    PG_DATA="$base/data"
    rm -rf "$base"
    mkdir -p "$base/socket"
    [[ -n "$PG_USER" ]] && chown -R "$PG_USER" "$base"
    log "starting a throwaway PostgreSQL ($PG_BIN) on 127.0.0.1:$port"
    as_pg_user "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 >"$base/initdb.log" 2>&1 \
        || { cat "$base/initdb.log" >&2; exit 1; }
    as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$base/server.log" -w \
        -o "-p $port -c listen_addresses=127.0.0.1 -k $base/socket -c max_connections=200 -c fsync=off" start >/dev/null \
        || { cat "$base/server.log" >&2; exit 1; }
    PG_STARTED=1
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

if [[ -n "${DATABASE_URL:-}" ]]; then
    log "PostgreSQL: using DATABASE_URL"
elif [[ -z "${IDENTITY_TEST_THROWAWAY_PG:-}" ]] && pg_usable "postgres://postgres@127.0.0.1:5432/postgres"; then
    export DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres"
    log "PostgreSQL: using the server on 127.0.0.1:5432"
else
    start_throwaway_pg
fi

