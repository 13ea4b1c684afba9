# Sourced by scripts/images/*: the container engine, its settings, the CA bundle.
# shellcheck shell=bash

IMAGES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$IMAGES_DIR/../.." && pwd)"

die() {
  echo "scripts/images: $*" >&2
  exit 1
}

# The engine: $KUBESCRIBE_ENGINE if set, else docker when its daemon answers, else podman.
# Sets ENGINE (an array: the command and the global flags it needs here).
choose_engine() {
  local name="${KUBESCRIBE_ENGINE:-}"
  if [ -z "$name" ]; then
    if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
      name=docker
    elif command -v podman >/dev/null; then
      name=podman
    elif command -v docker >/dev/null; then
      die "docker is installed but its daemon does not answer (docker info), and podman is not installed: start dockerd, or run scripts/images/install for podman"
    else
      die "no container engine: neither docker nor podman is installed; run scripts/images/install (apt-get install podman ...) or install docker"
    fi
  fi
  command -v "$name" >/dev/null || die "KUBESCRIBE_ENGINE=$name, but $name is not installed"
  case "$name" in
    podman)
      # crun refuses hybrid cgroups, there is no systemd to hand cgroups to, and podman's
      # default ulimits are above what such hosts allow (scripts/images/containers.conf).
      export CONTAINERS_CONF="${CONTAINERS_CONF:-$IMAGES_DIR/containers.conf}"
      ENGINE=(podman --runtime runc --cgroup-manager cgroupfs)
      # --format docker: the OCI format has no SHELL, and podman would run the worker's
      # RUN steps with /bin/sh instead of bash -o pipefail.
      BUILD_FLAGS=(--format docker --network host
        --ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
      ;;
    docker)
      export DOCKER_BUILDKIT=1 # build secrets (--secret) need BuildKit
      ENGINE=(docker)
      BUILD_FLAGS=(--network host)
      ;;
    *) die "KUBESCRIBE_ENGINE=$name: only docker and podman are known" ;;
  esac
}

# The host's CA bundle, which pip and apt need for HTTPS where it goes through a local CA:
# $KUBESCRIBE_CA_BUNDLE, else what pip is told to use, else the system bundle. Empty if none.
find_ca_bundle() {
  local candidate
  for candidate in "${KUBESCRIBE_CA_BUNDLE:-}" "${PIP_CERT:-}" \
    "$(python3 -m pip config get global.cert 2>/dev/null || true)" \
    "${REQUESTS_CA_BUNDLE:-}" "${SSL_CERT_FILE:-}" /etc/ssl/certs/ca-certificates.crt; do
    if [ -n "$candidate" ] && [ -s "$candidate" ]; then
      echo "$candidate"
      return
    fi
  done
}

# An image exists locally.
have_image() {
  "${ENGINE[@]}" image inspect "$1" >/dev/null 2>&1
}

project_version() {
  python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' \
    "$REPO_ROOT/pyproject.toml"
}
