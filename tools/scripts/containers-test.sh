#!/usr/bin/env bash
# npm run test:containers: build every CPU image of deploy/docker/Dockerfile with podman, run the
# stack from them as the cpu overlay's manifests do, certify and verify an image through it with
# the CLI from the host, check that a certifier without its key exits 78 with a clear message,
# and stop everything (also on failure).
#
# inference-gpu is not built: it starts FROM the CUDA runtime image and downloads onnxruntime's
# CUDA provider from NuGet, and neither is reachable from these machines.
#
#   npm run test:containers                   # everything
#   GLCERT_CONTAINERS_STEPS=build npm run test:containers   # only build (or: run)
#   GLCERT_CONTAINERS_MEASURE=1 ...           # also print image sizes, start-to-SERVING, idle RSS
#
# Needs podman, runc and debootstrap (Debian packages) and root (debootstrap, host networking).
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=containers-lib.sh
source "$REPO_ROOT/tools/scripts/containers-lib.sh"
cd "$REPO_ROOT"

TAG=${GLCERT_IMAGE_TAG:-dev}                # the cpu overlay's tag
TARGETS=(certifier sampler inference bounds verifier cli)
STEPS=${GLCERT_CONTAINERS_STEPS:-build,run}

[ "$(id -u)" = 0 ] || die "run as root: debootstrap and rootful podman with host networking need it (sudo npm run test:containers)"
setup_podman

build_images() {
  ensure_node_image
  local t started
  for t in "${TARGETS[@]}"; do
    started=$SECONDS
    log "building $t"
    podman build --pull=never --network host --ignorefile deploy/docker/Dockerfile.dockerignore \
      -f deploy/docker/Dockerfile --target "$t" -t "glcert/$t:$TAG" . >"$WORK/build-$t.log" 2>&1 \
      || { tail -n 40 "$WORK/build-$t.log" >&2; die "podman build --target $t failed (log: $WORK/build-$t.log)"; }
    log "built glcert/$t:$TAG in $((SECONDS - started)) s ($(podman image inspect --format '{{.Size}}' "glcert/$t:$TAG" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
  done
}

case ",$STEPS," in *,build,*) build_images ;; esac
case ",$STEPS," in *,run,*) node --import tsx deploy/src/containers/run.ts "$TAG" ;; esac
log "ok"
