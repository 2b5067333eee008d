#!/bin/sh
# One-shot database step (the compose service `migrate`).
#
#   deploy/migrate.sh              python -m cdht_tools db upgrade all
#   deploy/migrate.sh ARGS...      python -m cdht_tools db ARGS...
#                                  e.g. deploy/migrate.sh downgrade registry <rev>
#
# Waits until the PostgreSQL server(s) of the four *_DATABASE_URL variables
# accept TCP connections (at most $WAIT_TIMEOUT seconds, default 60) first.
# Migrations need no broker, so RabbitMQ is not waited for here.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

python "$root/deploy/wait_for.py" \
    REGISTRY_DATABASE_URL ASSESSMENT_DATABASE_URL \
    REPORTING_DATABASE_URL NOTIFICATIONS_DATABASE_URL

if [ "$#" -eq 0 ]; then
    set -- upgrade all
fi
exec python -m cdht_tools db "$@"
