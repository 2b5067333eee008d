#!/bin/sh
# Start one CDHT service in the foreground (container entry point).
#
#   deploy/run-service.sh registry|assessment|reporting|notifications|portal
#
# Waits until RabbitMQ (AMQP_URI; not for the portal, which uses no broker) and the
# service's PostgreSQL (<SERVICE>_DATABASE_URL) accept TCP connections, at most
# $WAIT_TIMEOUT seconds (default 60), then replaces itself with `nameko run`, so that
# nameko gets the container's signals (SIGTERM -> graceful stop).
set -eu

SERVICES="registry assessment reporting notifications portal"

usage() {
    cat <<USAGE
CDHT image. Usage:
  deploy/run-service.sh <service>   run one service: $(echo "$SERVICES" | sed 's/ /, /g')
  deploy/migrate.sh [ARGS...]       create the databases and apply migrations
                                    (default: python -m cdht_tools db upgrade all)
Configuration comes from environment variables; see .env.example.
USAGE
}

case "${1:-}" in
    -h|--help|help) usage; exit 0 ;;
    "") usage >&2; exit 2 ;;
esac
if [ "$#" -ne 1 ]; then
    usage >&2
    exit 2
fi

service=$1
case " $SERVICES " in
    *" $service "*) ;;
    *) echo "run-service.sh: unknown service '$service'" >&2; usage >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

db_var="$(echo "$service" | tr '[:lower:]' '[:upper:]')_DATABASE_URL"
if [ "$service" = portal ]; then
    python "$root/deploy/wait_for.py" "$db_var"
else
    python "$root/deploy/wait_for.py" AMQP_URI "$db_var"
fi

exec nameko run --config "services/$service/config.yaml" "services.$service.service"
