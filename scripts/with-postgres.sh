#!/usr/bin/env bash
# Runs CMD... with a throwaway PostgreSQL cluster: installs the Debian
# `postgresql` package when initdb/pg_ctl are missing (idempotent), starts a
# cluster in a temporary directory on a free 127.0.0.1 port (as the
# `postgres` system user: the server refuses to run as root), creates the
# database `keyshift`, exports
#   KEYSHIFT_TEST_PG_URL=postgres://ks@127.0.0.1:PORT/keyshift
# (and KEYSHIFT_TEST_PG_CA, the CA of the server's TLS certificate, when
# openssl is available), runs CMD, and always stops the cluster and
# removes the directory.
# The cluster trusts loopback connections: for tests only.
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi

pg_bin_dir() {
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return
    fi
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return
        fi
    done
}

BIN=$(pg_bin_dir || true)
if [ -z "$BIN" ]; then
    echo "with-postgres: installing the Debian postgresql package" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    BIN=$(pg_bin_dir || true)
    if [ -z "$BIN" ]; then
        echo "with-postgres: initdb/pg_ctl not found after installing postgresql" >&2
        exit 1
    fi
fi
PSQL=$(command -v psql || echo "$BIN/psql")

RUN_AS=()
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    RUN_AS=(su postgres -s /bin/sh -c)
else
    RUN_AS=(sh -c)
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 20000))
}

DIR=$(mktemp -d /tmp/keyshift-pg.XXXXXX)
chmod 755 "$DIR"
[ "$(id -u)" = 0 ] && chown postgres "$DIR"

stop_cluster() {
    "${RUN_AS[@]}" "$BIN/pg_ctl -D $DIR/data -m immediate stop" >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap stop_cluster EXIT
trap 'exit 130' INT TERM

# A throwaway CA and server certificate (127.0.0.1 / localhost), so tests
# can also connect with TLS: KEYSHIFT_TEST_PG_CA names the CA.
TLS_OPTS=""
if command -v openssl >/dev/null 2>&1; then
    (
        cd "$DIR"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
            -subj "/CN=keyshift-test-ca" -keyout ca.key -out ca.crt
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -subj "/CN=localhost" -keyout server.key -out server.csr
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
            -extfile server.ext -out server.crt
        chmod 600 server.key
        [ "$(id -u)" = 0 ] && chown postgres server.key server.crt
        rm -f ca.key server.csr server.ext ca.srl
    ) >"$DIR/tls.log" 2>&1 && {
        TLS_OPTS="-c ssl=on -c ssl_cert_file=$DIR/server.crt -c ssl_key_file=$DIR/server.key"
        export KEYSHIFT_TEST_PG_CA="$DIR/ca.crt"
    }
fi

"${RUN_AS[@]}" "$BIN/initdb -D $DIR/data -A trust -U ks --no-sync >$DIR/initdb.log 2>&1" || {
    cat "$DIR/initdb.log" >&2
    exit 1
}
started=
for _ in 1 2 3 4 5; do
    PORT=$(free_port)
    if "${RUN_AS[@]}" "$BIN/pg_ctl -D $DIR/data -l $DIR/log -w -t 30 -o \"-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off $TLS_OPTS\" start" >/dev/null 2>&1; then
        started=1
        break
    fi
done
if [ -z "$started" ]; then
    echo "with-postgres: the PostgreSQL server did not start:" >&2
    cat "$DIR/log" >&2 || true
    exit 1
fi
"$PSQL" -q -h 127.0.0.1 -p "$PORT" -U ks -d postgres -c 'CREATE DATABASE keyshift' >/dev/null
export KEYSHIFT_TEST_PG_URL="postgres://ks@127.0.0.1:$PORT/keyshift"
echo "with-postgres: PostgreSQL on 127.0.0.1:$PORT ($KEYSHIFT_TEST_PG_URL)" >&2
set +e
"$@"
rc=$?
set -e
exit $rc
