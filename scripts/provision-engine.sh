#!/usr/bin/env bash
# Provision the real multi-architecture engine that mabgui's tests and development use:
#   dockerd (containerd image store) + docker-buildx + QEMU user emulators in binfmt_misc
#   + a distribution registry on 127.0.0.1:5000 + a locally built multi-arch busybox base image
#   + from the shared engine folder (when present): the moby/buildkit images docker-container
#   builders boot offline, and docker-buildx 0.30.1 as the default plugin (Debian's 0.13.1 kept at
#   /usr/libexec/docker/cli-plugins for the compatibility pass of .ci/run).
# Idempotent: every step checks whether its work is already done. Debian 12 hosts, as root.
set -euo pipefail

STATE_DIR=${MABGUI_ENGINE_DIR:-/var/lib/mabgui-engine}
# Real upstream builds kept next to the repository (CI: ../shared/engine); absent on users' machines.
SHARED_ENGINE=${MABGUI_SHARED_ENGINE:-$(cd "$(dirname "$0")" && pwd)/../../shared/engine}
BUILDX_VERSION=0.30.1
BUILDX_PLUGIN=/usr/local/lib/docker/cli-plugins/docker-buildx
DEBIAN_BUILDX=/usr/libexec/docker/cli-plugins/docker-buildx
REGISTRY_ADDR=127.0.0.1:5000
BASE_IMAGE=$REGISTRY_ADDR/busybox:latest
QEMU_ARCHES=(aarch64 arm riscv64 ppc64le s390x)
# Debian architecture name -> docker platform, for the busybox base image.
declare -A BUSYBOX_PLATFORMS=(
  [amd64]=linux/amd64 [arm64]=linux/arm64 [armhf]=linux/arm/v7
  [ppc64el]=linux/ppc64le [s390x]=linux/s390x [riscv64]=linux/riscv64
)

log() { printf '[provision] %s\n' "$*" >&2; }
die() { printf '[provision] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (it installs packages, starts dockerd and writes binfmt_misc)"
mkdir -p "$STATE_DIR"

# --- apt with a private sources list: bookworm + trixie, nothing else upgraded ---------------
APT_SOURCES=$STATE_DIR/apt/sources.list
APT_LISTS=$STATE_DIR/apt/lists
apt_private() {
  apt-get -o Dir::Etc::SourceList="$APT_SOURCES" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$APT_LISTS" -o APT::Default-Release=bookworm "$@"
}

write_sources() {
  mkdir -p "$APT_LISTS/partial"
  local main_uri security_uri
  main_uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  security_uri=$(awk '/^URIs:/ && $2 ~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  [ -n "$main_uri" ] || main_uri=http://deb.debian.org/debian
  [ -n "$security_uri" ] || security_uri=http://deb.debian.org/debian-security
  cat >"$APT_SOURCES" <<SRC
deb $main_uri bookworm main
deb $main_uri bookworm-updates main
deb $security_uri bookworm-security main
deb $main_uri trixie main
SRC
  # The per-architecture busybox downloads need trixie alone.
  grep ' trixie ' "$APT_SOURCES" >"$APT_SOURCES.trixie"
}

# apt-get update, retried: mirrors mid-sync answer "File has unexpected size" now and then.
apt_update() {
  local n
  for n in 1 2 3; do
    "$@" update -qq && return 0
    log "apt-get update failed (try $n of 3), retrying"
    sleep $((n * 5))
  done
  return 1
}

install_packages() {
  if [ -x /usr/sbin/dockerd ] && [ -x /usr/libexec/docker/cli-plugins/docker-buildx ] \
     && [ -x /usr/bin/qemu-aarch64-static ] && [ -x /usr/bin/docker-registry ] && [ -x /usr/bin/Xvfb ]; then
    log "packages already installed"
    return
  fi
  write_sources
  log "apt-get update (private sources list)"
  apt_update apt_private
  log "installing docker.io, docker-buildx, containerd (trixie), qemu-user-static, docker-registry, xvfb"
  DEBIAN_FRONTEND=noninteractive apt_private install -y -qq --no-install-recommends \
    docker.io/trixie docker-buildx/trixie containerd/trixie qemu-user-static docker-registry \
    iproute2 iptables xvfb xauth >/dev/null
  # The docker.io package's postinst may try to start services through systemd; there is none here.
}

# --- dockerd ----------------------------------------------------------------------------------
docker_ok() { timeout 10 docker info >/dev/null 2>&1; }

configure_dockerd() {
  mkdir -p /etc/docker
  local want='{
  "features": {"containerd-snapshotter": true},
  "insecure-registries": ["127.0.0.1:5000", "localhost:5000"]
}'
  if [ ! -f /etc/docker/daemon.json ] || [ "$(cat /etc/docker/daemon.json)" != "$want" ]; then
    printf '%s\n' "$want" >/etc/docker/daemon.json
  fi
}

start_dockerd() {
  if docker_ok; then log "dockerd already running"; return; fi
  log "starting dockerd"
  # A stale pid file from a killed daemon blocks a new start.
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
  fi
  setsid dockerd >"$STATE_DIR/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    docker_ok && { log "dockerd is up"; return; }
    sleep 1
  done
  tail -n 30 "$STATE_DIR/dockerd.log" >&2 || true
  die "dockerd did not come up within 60 s (log: $STATE_DIR/dockerd.log)"
}

# --- binfmt_misc + QEMU -----------------------------------------------------------------------
register_emulators() {
  local bm=/proc/sys/fs/binfmt_misc
  if [ ! -e $bm/register ]; then
    log "mounting binfmt_misc"
    mount -t binfmt_misc binfmt_misc $bm
  fi
  for arch in "${QEMU_ARCHES[@]}"; do
    local conf=/usr/lib/binfmt.d/qemu-$arch.conf
    [ -f "$conf" ] || die "$conf not found (qemu-user-static not installed?)"
    if [ -e "$bm/qemu-$arch" ]; then
      # Present but maybe disabled by a test that was interrupted: enable it.
      head -n1 "$bm/qemu-$arch" | grep -q enabled || echo 1 >"$bm/qemu-$arch"
      continue
    fi
    log "registering qemu-$arch"
    grep -v '^#' "$conf" | grep -v '^\s*$' | head -n1 >$bm/register
  done
}

# --- registry -----------------------------------------------------------------------------------
registry_ok() { curl -fsS -o /dev/null "http://$REGISTRY_ADDR/v2/" 2>/dev/null; }

start_registry() {
  if registry_ok; then log "registry already serving on $REGISTRY_ADDR"; return; fi
  log "starting registry on $REGISTRY_ADDR"
  mkdir -p "$STATE_DIR/registry"
  cat >"$STATE_DIR/registry.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE_DIR/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
YML
  setsid docker-registry serve "$STATE_DIR/registry.yml" >"$STATE_DIR/registry.log" 2>&1 </dev/null &
  for _ in $(seq 1 30); do
    registry_ok && return
    sleep 0.5
  done
  die "registry did not answer on $REGISTRY_ADDR (log: $STATE_DIR/registry.log)"
}

# --- multi-arch busybox base image --------------------------------------------------------------
# The tag must name the multi-platform index (a single-platform push over it, or a push cut short
# by the registry, leaves a manifest that builds every platform from one architecture's busybox).
base_image_ok() {
  curl -fsS -H 'Accept: application/vnd.oci.image.index.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json' \
    "http://$REGISTRY_ADDR/v2/busybox/manifests/latest" 2>/dev/null | grep -q '"manifests"'
}

build_base_image() {
  if base_image_ok; then log "base image $BASE_IMAGE already in the registry"; return; fi
  # The image store may still hold the index: push it again rather than rebuild.
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 \
     && docker push -q "$BASE_IMAGE" >/dev/null 2>&1 && base_image_ok; then
    log "pushed $BASE_IMAGE again from the image store"
    return
  fi
  write_sources
  local ctx=$STATE_DIR/busybox-context platforms=()
  mkdir -p "$ctx"
  for darch in "${!BUSYBOX_PLATFORMS[@]}"; do
    local dest=$ctx/$darch/busybox
    platforms+=("${BUSYBOX_PLATFORMS[$darch]}")
    [ -x "$dest" ] && continue
    log "downloading busybox-static for $darch"
    local lists=$STATE_DIR/apt/lists-$darch work
    mkdir -p "$lists/partial"
    work=$(mktemp -d)
    local aopts=(-o Dir::Etc::SourceList="$APT_SOURCES.trixie" -o Dir::Etc::SourceParts=/dev/null
                 -o Dir::State::Lists="$lists" -o APT::Architecture="$darch" -o APT::Architectures="$darch"
                 -o APT::Sandbox::User=root)
    apt_update apt-get "${aopts[@]}"
    (cd "$work" && apt-get "${aopts[@]}" download -qq busybox-static/trixie >/dev/null)
    dpkg -x "$work"/busybox-static_*.deb "$work/root"
    mkdir -p "$ctx/$darch"
    cp "$work/root/usr/bin/busybox" "$dest"
    rm -rf "$work"
  done
  # Map docker TARGETARCH/TARGETVARIANT to the Debian architecture folder in the context.
  local df=$ctx/Dockerfile
  cat >"$df" <<'DOCKERFILE'
FROM scratch AS base-amd64
COPY amd64/busybox /bin/busybox
FROM scratch AS base-arm64
COPY arm64/busybox /bin/busybox
FROM scratch AS base-arm
COPY armhf/busybox /bin/busybox
FROM scratch AS base-ppc64le
COPY ppc64el/busybox /bin/busybox
FROM scratch AS base-s390x
COPY s390x/busybox /bin/busybox
FROM scratch AS base-riscv64
COPY riscv64/busybox /bin/busybox
FROM base-${TARGETARCH}
RUN ["/bin/busybox", "--install", "-s", "/bin"]
DOCKERFILE
  local plist
  plist=$(IFS=,; echo "${platforms[*]}")
  log "building $BASE_IMAGE for $plist (non-amd64 RUN steps run under QEMU)"
  docker buildx build --builder default --platform "$plist" --provenance=false \
    -t "$BASE_IMAGE" --push "$ctx" >"$STATE_DIR/busybox-build.log" 2>&1 \
    || { tail -n 40 "$STATE_DIR/busybox-build.log" >&2; die "building the busybox base image failed"; }
  base_image_ok || die "the registry does not serve $BASE_IMAGE after the push"
}

# --- shared engine parts: BuildKit images and buildx 0.30.1 -------------------------------------
shared_ok() {
  if [ ! -d "$SHARED_ENGINE" ]; then
    log "no shared engine folder at $SHARED_ENGINE: skipping the BuildKit images and buildx $BUILDX_VERSION"
    return 1
  fi
  (cd "$SHARED_ENGINE" && sha256sum --quiet -c SHA256SUMS) \
    || die "$SHARED_ENGINE/SHA256SUMS does not match its files: refusing to install them"
}

image_present() { docker image inspect "$1" >/dev/null 2>&1; }

# load_image ARCHIVE TAG...: docker load ARCHIVE unless every TAG is already in the image store.
load_image() {
  local archive=$SHARED_ENGINE/$1 tag missing=0
  shift
  for tag in "$@"; do image_present "$tag" || missing=1; done
  if [ "$missing" = 0 ]; then log "$* already in the image store"; return; fi
  [ -f "$archive" ] || { log "$archive not found: skipping $*"; return; }
  log "loading $* from $archive"
  gunzip -c "$archive" | docker load >/dev/null
  for tag in "$@"; do image_present "$tag" || die "$archive did not provide $tag"; done
}

install_buildx() {
  local src=$SHARED_ENGINE/docker-buildx-v$BUILDX_VERSION.gz
  if [ -x "$BUILDX_PLUGIN" ] && "$BUILDX_PLUGIN" version 2>/dev/null | grep -q " v$BUILDX_VERSION "; then
    log "buildx $BUILDX_VERSION already installed at $BUILDX_PLUGIN"
    return
  fi
  [ -f "$src" ] || { log "$src not found: keeping the installed buildx"; return; }
  log "installing buildx $BUILDX_VERSION at $BUILDX_PLUGIN (Debian's stays at $DEBIAN_BUILDX)"
  mkdir -p "$(dirname "$BUILDX_PLUGIN")"
  gunzip -c "$src" >"$BUILDX_PLUGIN.tmp"
  chmod 0755 "$BUILDX_PLUGIN.tmp"
  mv -f "$BUILDX_PLUGIN.tmp" "$BUILDX_PLUGIN"
}

provision_shared() {
  shared_ok || return 0
  load_image moby-buildkit-v0.22.0.tar.gz moby/buildkit:buildx-stable-1 moby/buildkit:v0.22.0
  load_image moby-buildkit-v0.22.0-arm64.tar.gz moby/buildkit:v0.22.0-arm64
  install_buildx
}

install_packages
configure_dockerd
start_dockerd
register_emulators
start_registry
build_base_image
provision_shared
log "engine ready: $(docker version --format 'docker {{.Server.Version}}') | $(docker buildx version) | registry $REGISTRY_ADDR"
