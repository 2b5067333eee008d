#!/bin/sh
# Start script of the package-built RabbitMQ image. Debian's server reads no
# RABBITMQ_DEFAULT_USER/_PASS, so they are written into a config file here; like the official
# image's, they make the account only when the data volume is empty (first start). Listens on
# every address (5672, management 15672); the server gets the container's signals.
set -eu
conf=/etc/rabbitmq/conf.d/10-cdht-defaults.conf
if [ -n "${RABBITMQ_DEFAULT_USER:-}" ]; then
    if [ -z "${RABBITMQ_DEFAULT_PASS:-}" ]; then
        echo "cdht-rabbitmq: RABBITMQ_DEFAULT_PASS is empty" >&2
        exit 1
    fi
    umask 077
    cat > "$conf" <<CONF
default_user = $RABBITMQ_DEFAULT_USER
default_pass = $RABBITMQ_DEFAULT_PASS
default_user_tags.administrator = true
default_vhost = /
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
listeners.tcp.default = 5672
management.tcp.port = 15672
loopback_users = none
CONF
    chown rabbitmq:rabbitmq "$conf"
fi
mkdir -p /var/lib/rabbitmq /var/log/rabbitmq
# A cluster's shared cookie, given to the server as "-setcookie X" (as with the official
# image), goes into the cookie file too, so that rabbitmqctl and the health check use it.
cookie=$(printf '%s\n' "${RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS:-}" |
         sed -n 's/.*-setcookie[[:space:]]\{1,\}\([^[:space:]]\{1,\}\).*/\1/p')
if [ -n "$cookie" ]; then
    umask 077
    printf '%s' "$cookie" > /var/lib/rabbitmq/.erlang.cookie
    chmod 0400 /var/lib/rabbitmq/.erlang.cookie
fi
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /var/log/rabbitmq
# log to the console (docker logs), not to files in the container
export RABBITMQ_LOGS=-
exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups \
    env HOME=/var/lib/rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server
