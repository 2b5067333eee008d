#!/bin/sh
# Start script of the package-built PostgreSQL image. On an empty data directory it does what
# the official image's entrypoint does: initdb with POSTGRES_USER as superuser and
# POSTGRES_PASSWORD as its password, listen on every address with password (scram) logins,
# then run /docker-entrypoint-initdb.d/*.sql and *.sh against a server on its socket only.
# Then it replaces itself with the server, which gets the container's signals. As with the
# official image, a command of "postgres -c name=value ..." passes its settings to the server.
set -eu
if [ "${1:-}" = postgres ]; then shift; fi
: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=postgres}"

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /run/postgresql
    chown postgres:postgres /run/postgresql
    # a fresh volume is root's: hand it to postgres, and only then drop privileges
    [ -s "$PGDATA/PG_VERSION" ] || chown postgres:postgres "$PGDATA"
    chmod 0700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "cdht-postgres: POSTGRES_PASSWORD is empty: the database would have no password" >&2
        exit 1
    fi
    echo "cdht-postgres: initialising $PGDATA for $POSTGRES_USER" >&2
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" \
        --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 >&2
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    # the init scripts run on the socket alone: nothing outside sees a half-made server
    pg_ctl --pgdata="$PGDATA" --wait --silent -o "-c listen_addresses=''" start
    for script in /docker-entrypoint-initdb.d/*; do
        case "$script" in
            *.sql) echo "cdht-postgres: running $script" >&2
                   psql -v ON_ERROR_STOP=1 --quiet --username="$POSTGRES_USER" \
                        --dbname=postgres --file="$script" >&2 ;;
            *.sh) echo "cdht-postgres: running $script" >&2; sh "$script" ;;
            *) ;;
        esac
    done
    pg_ctl --pgdata="$PGDATA" --wait --silent -m fast stop
    echo "cdht-postgres: initialised" >&2
fi
exec postgres -D "$PGDATA" "$@"
