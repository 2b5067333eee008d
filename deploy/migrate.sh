#!/bin/sh
# One-shot database step (the compose service `migrate`).
#
#   deploy/migrate.sh              python -m cdht_tools provision (when POSTGRES_ADMIN_URL
#                                  is set: each service's own roles and broker user, the
#                                  portal's roles), then python -m cdht_tools db upgrade all
#                                  (the portal's database too when PORTAL_DATABASE_URL is set)
#   deploy/migrate.sh ARGS...      python -m cdht_tools db ARGS...
#                                  e.g. deploy/migrate.sh downgrade registry <rev>
#
# Waits until the PostgreSQL server(s) of the four services' *_DATABASE_URL variables (and
# PORTAL_DATABASE_URL, when set) accept TCP connections (at most $WAIT_TIMEOUT seconds,
# default 60) first.
# Migrations need no broker, so RabbitMQ is not waited for here.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

python "$root/deploy/wait_for.py" \
    REGISTRY_DATABASE_URL ASSESSMENT_DATABASE_URL \
    REPORTING_DATABASE_URL NOTIFICATIONS_DATABASE_URL \
    ${PORTAL_DATABASE_URL:+PORTAL_DATABASE_URL}

if [ "$#" -eq 0 ]; then
    if [ -n "${POSTGRES_ADMIN_URL:-}" ]; then
        python "$root/deploy/wait_for.py" POSTGRES_ADMIN_URL
        python -m cdht_tools provision
    fi
    set -- upgrade all
fi
exec python -m cdht_tools db "$@"
