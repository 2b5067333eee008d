#!/usr/bin/env bash
# Builds every image the compose stack runs from Debian packages and PyPI wheels alone, for
# machines that reach no image registry (CI, offline sites). Run from anywhere, as root (or a
# member of the docker group), with docker, mmdebstrap and Python 3.11 on the host.
#
#   deploy/images/build.sh [--rebuild] [--env] [PART ...]
#   deploy/images/build.sh --env          only prints the .env lines
#
# PARTs (default: all, in this order):
#   base        cdht-base:bookworm      Debian bookworm + python3 (3.11), the app's base
#   postgres    cdht-postgres:15        Debian's PostgreSQL 15 + start script (initdb, password)
#   rabbitmq    cdht-rabbitmq:3.10      Debian's RabbitMQ 3.10 + start script (user, management)
#   wheels      deploy/wheels/          wheels of requirements.txt, built on the host
#   app         $CDHT_IMAGE             deploy/Dockerfile on cdht-base:bookworm
#   mailcatcher cdht-mailcatcher:latest the dev override's SMTP sink (mails readable over HTTP)
#   idp         $IDP_IMAGE              the idp profile's OpenID provider: deploy/idp on
#                                       $IDP_BASE_IMAGE (default cdht-base:bookworm) with the
#                                       host's node (20 or newer) and `npm ci` of deploy/idp;
#                                       in the default set only where the host has that node
#
# A root filesystem (mmdebstrap → docker import) is made only when its image is missing, or
# with --rebuild. --env prints the .env lines that make compose use these images.
# Timings of each part go to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

SUITE=bookworm
MIRRORS=(
  "deb http://deb.debian.org/debian $SUITE main"
  "deb http://deb.debian.org/debian $SUITE-updates main"
  "deb http://deb.debian.org/debian-security $SUITE-security main"
)
# No docs, man pages or translations in the images.
SLIM=(--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*'
      --dpkgopt='path-include=/usr/share/doc/*/copyright'
      --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*')
# fonts-dejavu-core: the certificate PDF's Vietnamese text
BASE_PACKAGES=python3,python3-venv,python-is-python3,ca-certificates,tzdata,fonts-dejavu-core
APP_IMAGE=${CDHT_IMAGE:-cdht:latest}
IDP_IMAGE=${IDP_IMAGE:-cdht-idp:latest}
# the wheels are made by the host's Python 3.11: the checkout's venv, else python3
if [ -z "${PYTHON:-}" ]; then
  PYTHON=python3
  [ -x "$root/.venv/bin/python" ] && PYTHON=$root/.venv/bin/python
fi

# The host's node binary when it is version 20 or newer (deploy/idp's engines), else fails.
host_node() {
  local node
  node=$(command -v node) || return 1
  [ "$("$node" -p 'process.versions.node.split(".")[0]')" -ge 20 ] || return 1
  readlink -f "$node"
}

rebuild=0
print_env=0
parts=()
for arg in "$@"; do
  case "$arg" in
    --rebuild) rebuild=1 ;;
    --env) print_env=1 ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    base|postgres|rabbitmq|wheels|app|mailcatcher|idp) parts+=("$arg") ;;
    *) echo "build.sh: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
if [ ${#parts[@]} -eq 0 ] && [ "$print_env" = 1 ]; then
  parts=()  # --env alone only prints
elif [ ${#parts[@]} -eq 0 ]; then
  parts=(base postgres rabbitmq wheels app mailcatcher)
  if host_node >/dev/null 2>&1; then
    parts+=(idp)
  else
    echo "images: idp left out (no node 20 or newer here; only the idp profile needs it)" >&2
  fi
fi

say() { echo "images: $*" >&2; }

timed() {  # name command...: runs it, prints its time
  local name=$1 start=$SECONDS
  shift
  say "$name ..."
  "$@"
  say "$name done in $((SECONDS - start)) s"
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# rootfs TAG PACKAGES [mmdebstrap options...]: a Debian root filesystem imported as TAG.
rootfs() {
  local tag=$1 packages=$2
  shift 2
  if [ "$rebuild" = 0 ] && have_image "$tag"; then
    say "$tag exists (--rebuild makes it again)"
    return
  fi
  local tar
  tar=$(mktemp --suffix=.tar)
  # unshare mode: the package scripts run in namespaces of their own, so they neither see
  # nor touch this machine's servers (e.g. its PostgreSQL on 5432).
  # shellcheck disable=SC2016  # "$1" is the hook's own argument, expanded by mmdebstrap
  mmdebstrap --mode=unshare --variant=minbase --include="$packages" "${SLIM[@]}" \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    "$@" "$SUITE" "$tar" "${MIRRORS[@]}" >&2
  docker import --change 'CMD ["/bin/bash"]' "$tar" "$tag" >/dev/null
  rm -f "$tar"
}

build_base() {
  rootfs cdht-base:bookworm-rootfs "$BASE_PACKAGES"
  docker tag cdht-base:bookworm-rootfs cdht-base:bookworm
}

build_postgres() {
  # No cluster of the package's own: the start script makes one on the data volume.
  # shellcheck disable=SC2016  # "$1": the hook's argument (the root filesystem)
  rootfs cdht-postgres:15-rootfs postgresql-15,postgresql-client-15 \
    --essential-hook='mkdir -p "$1/etc/postgresql-common/createcluster.d" && echo "create_main_cluster = false" > "$1/etc/postgresql-common/createcluster.d/cdht.conf"'
  docker build -q -t cdht-postgres:15 --build-arg ROOTFS=cdht-postgres:15-rootfs \
    "$here/postgres" >/dev/null
}

build_rabbitmq() {
  rootfs cdht-rabbitmq:3.10-rootfs rabbitmq-server
  docker build -q -t cdht-rabbitmq:3.10 --build-arg ROOTFS=cdht-rabbitmq:3.10-rootfs \
    "$here/rabbitmq" >/dev/null
}

build_wheels() {
  # The host's Python 3.11 builds or fetches a wheel of every run-time requirement (and the
  # mail catcher's aiosmtpd), so nothing inside a build needs the package index.
  if ! "$PYTHON" -c 'import sys, pip; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    echo "build.sh: wheels need Python 3.11 with pip (PYTHON=$PYTHON); run bin/setup or set PYTHON" >&2
    exit 1
  fi
  mkdir -p "$root/deploy/wheels"
  "$PYTHON" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$root/deploy/wheels" \
    --find-links "$root/deploy/wheels" \
    -r "$root/requirements.txt" -r "$here/mailcatcher/requirements.txt"
}

build_app() {
  docker build -q -f "$root/deploy/Dockerfile" -t "$APP_IMAGE" \
    --build-arg BASE_IMAGE=cdht-base:bookworm "$root" >/dev/null
}

build_mailcatcher() {
  docker build -q -f "$here/mailcatcher/Dockerfile" -t cdht-mailcatcher:latest \
    --build-arg BASE_IMAGE=cdht-base:bookworm "$root" >/dev/null
}

build_idp() {
  local node stage lock stamp
  if ! node=$(host_node); then
    echo "build.sh: idp needs node 20 or newer on this machine (found: $(node --version 2>&1 || true))" >&2
    exit 1
  fi
  # deploy/idp's packages, installed on the host from its lock file when it has changed
  lock=$root/deploy/idp/package-lock.json
  stamp=$root/deploy/idp/node_modules/.lock.sha256
  if [ "$(cat "$stamp" 2>/dev/null)" != "$(sha256sum "$lock" | cut -d' ' -f1)" ]; then
    npm ci --prefix "$root/deploy/idp" --silent --no-audit --no-fund >/dev/null
    sha256sum "$lock" | cut -d' ' -f1 > "$stamp"
  fi
  stage=$(mktemp -d)
  cp "$node" "$stage/node"
  mkdir "$stage/idp"
  cp -a "$root/deploy/idp/server.mjs" "$root/deploy/idp/package.json" "$lock" \
    "$root/deploy/idp/node_modules" "$here/idp/start.mjs" "$stage/idp/"
  cp "$here/idp/Dockerfile" "$stage/"
  docker build -q -t "$IDP_IMAGE" --build-arg "BASE_IMAGE=${IDP_BASE_IMAGE:-cdht-base:bookworm}" \
    "$stage" >/dev/null
  rm -rf "$stage"
}

total=$SECONDS
for part in "${parts[@]}"; do
  timed "$part" "build_$part"
done
[ ${#parts[@]} -eq 0 ] || say "all done in $((SECONDS - total)) s"
[ ${#parts[@]} -eq 0 ] || docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' |
  grep -E '^(cdht|cdht-[a-z]+):' | grep -v -- '-rootfs' >&2 || true

if [ "$print_env" = 1 ]; then
  cat <<ENV
BASE_IMAGE=cdht-base:bookworm
POSTGRES_IMAGE=cdht-postgres:15
RABBITMQ_IMAGE=cdht-rabbitmq:3.10
ENV
fi
