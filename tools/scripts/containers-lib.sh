# Sourced by containers-test.sh: podman set up for these machines, and the local stand-in for the
# Dockerfile's NODE_IMAGE.
#
# podman: runc (crun cannot raise rlimits here), cgroupfs (no systemd), explicit ulimits (the
# defaults are above what runc may set), host networking. They go in a private containers.conf
# (CONTAINERS_CONF) so that `podman kube play` gets them too, and nothing on the machine changes.

REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
DOCKERFILE="$REPO_ROOT/deploy/docker/Dockerfile"
WORK=${GLCERT_CONTAINERS_WORK:-/tmp/glcert-containers}
mkdir -p "$WORK"

log() { printf '[containers %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

setup_podman() {
  command -v podman >/dev/null || die "podman is not installed (apt-get install -y podman runc debootstrap)"
  command -v runc >/dev/null || die "runc is not installed (apt-get install -y runc)"
  cat >"$WORK/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
EOF
  export CONTAINERS_CONF="$WORK/containers.conf"
}

# The value of `ARG NAME=...` in the Dockerfile.
dockerfile_arg() { sed -n "s/^ARG $1=\(.*\)$/\1/p" "$DOCKERFILE" | head -n1; }

# The Debian mirror apt uses here (deb822 sources or the classic list).
debian_mirror() {
  local m=""
  if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
    m=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' /etc/apt/sources.list.d/*.sources)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' /etc/apt/sources.list)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

# Public base images cannot be pulled here: build a stand-in tagged as the Dockerfile's NODE_IMAGE
# from Debian bookworm (debootstrap minbase), this machine's node and npm, and the system CA
# bundle (npm ci inside builds reaches the registry through it). Skipped when the tag exists.
ensure_node_image() {
  local image
  image=$(dockerfile_arg NODE_IMAGE)
  [ -n "$image" ] || die "no ARG NODE_IMAGE in $DOCKERFILE"
  if podman image exists "$image"; then
    log "base image $image present"
    return
  fi
  command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install -y debootstrap)"
  local node npm_dir rootfs mirror
  node=$(readlink -f "$(command -v node)")
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  [ -f "$npm_dir/package.json" ] || die "cannot find npm's package directory (found $npm_dir)"
  rootfs="$WORK/rootfs"
  mirror=$(debian_mirror)
  rm -rf "$rootfs"
  log "making a stand-in for $image: debootstrap bookworm from $mirror, node $("$node" --version), npm $(npm --version)"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 20 "$WORK/debootstrap.log" >&2; die "debootstrap failed (log: $WORK/debootstrap.log)"; }
  install -m 0755 "$node" "$rootfs/usr/local/bin/node"
  ln -sf /usr/local/bin/node "$rootfs/usr/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  mkdir -p "$rootfs/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["node"]' - "$image" >/dev/null
  rm -rf "$rootfs"
  log "base image $image imported"
}
