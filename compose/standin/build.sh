#!/usr/bin/env bash
# Build the local stand-in images for the lstk compose stack.
#
# The stack's compose files default to the official images
# (heartexlabs/label-studio, postgres, minio/minio). On a machine that reaches
# no image registry those cannot be pulled, so this script builds images that
# honour the same contract from Debian's packages and PyPI, on a Debian base
# made locally with debootstrap + `docker import`.
#
# Usage: compose/standin/build.sh [--force] [--print-env] [TARGET...]
#   TARGET: base | label-studio | postgres | s3 | all   (default: all)
#   --force       rebuild the named targets even when up to date (the base
#                 only when `base` is named: a new base invalidates every image)
#   --print-env   only print the image variables (KEY=VALUE), build nothing
#
# Environment:
#   LS_VERSION        Label Studio version from PyPI   (default 1.23.2)
#   MOTO_VERSION      moto version for the S3 stand-in (default 5.1.22)
#   DEBIAN_MIRROR     mirror for debootstrap           (default http://deb.debian.org/debian)
#   LSTK_CA_BUNDLE    CA bundle pip trusts while building
#                     (default /etc/ssl/certs/ca-certificates.crt)
#   DOCKER            docker client to use             (default docker)
#
# Caching: every image carries the label org.lstk.standin.hash, a hash of its
# build context, build arguments and parent image. An image whose tag exists
# with the same hash is not built again, so running this script twice costs a
# few `docker image inspect` calls. The CA bundle is copied into a temporary
# build context only (never into the source tree) and is used in a build stage
# that the final image does not keep.
#
# On success the last lines printed are the variables to hand to compose:
#   LABEL_STUDIO_IMAGE=... POSTGRES_IMAGE=... S3_IMAGE=...
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DOCKER="${DOCKER:-docker}"
LS_VERSION="${LS_VERSION:-1.23.2}"
MOTO_VERSION="${MOTO_VERSION:-5.1.22}"
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CA_BUNDLE="${LSTK_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
PG_MAJOR=15   # the PostgreSQL that Debian bookworm ships

REPO=lstk-standin
BASE_TAG="$REPO/debian:$DEBIAN_SUITE"
LS_TAG="$REPO/label-studio:$LS_VERSION"
PG_TAG="$REPO/postgres:$PG_MAJOR"
S3_TAG="$REPO/s3:moto-$MOTO_VERSION"
HASH_LABEL=org.lstk.standin.hash
# Bump to force every image to rebuild when the way of building changes.
RECIPE_VERSION=1

force=0
print_only=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --print-env) print_only=1 ;;
    -h|--help) sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    base|label-studio|postgres|s3) targets+=("$arg") ;;
    all) targets+=(label-studio postgres s3) ;;
    *) echo "build.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(label-studio postgres s3)

print_env() {
  echo "LABEL_STUDIO_IMAGE=$LS_TAG"
  echo "POSTGRES_IMAGE=$PG_TAG"
  echo "S3_IMAGE=$S3_TAG"
}

if [ "$print_only" = 1 ]; then
  print_env
  exit 0
fi

log() { echo "[standin] $*" >&2; }
die() { echo "[standin] error: $*" >&2; exit 1; }

command -v "$DOCKER" >/dev/null 2>&1 || die "docker client not found (set DOCKER=...)"
"$DOCKER" info >/dev/null 2>&1 || die "the Docker daemon does not answer; start it first (e.g. 'dockerd &' as root)"

# One build at a time on this engine (parallel test runs share the cache).
LOCK="${TMPDIR:-/tmp}/lstk-standin-build.lock"
exec 9>"$LOCK"
if command -v flock >/dev/null 2>&1; then
  flock 9
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/lstk-standin.XXXXXX")"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

image_label() {  # TAG -> value of the hash label, empty when the image is missing
  "$DOCKER" image inspect -f "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null || true
}

image_id() {
  "$DOCKER" image inspect -f '{{ .Id }}' "$1"
}

up_to_date() {  # TAG HASH FORCE
  [ "${3:-0}" = 0 ] && [ "$(image_label "$1")" = "$2" ]
}

context_hash() {  # DIR EXTRA... -> hash of the files in DIR plus the extra strings
  local dir="$1"; shift
  {
    echo "recipe=$RECIPE_VERSION"
    printf '%s\n' "$@"
    (cd "$dir" && find . -type f ! -name 'ca-certificates.crt' -print | LC_ALL=C sort | while read -r f; do
      printf '%s %s\n' "$(sha256sum < "$f" | cut -c1-64)" "$f"
    done)
  } | sha256sum | cut -c1-16
}

build_base() {  # [FORCE]  (--force rebuilds the base only when it is named)
  local hash
  hash="$(printf 'recipe=%s debootstrap minbase %s %s\n' "$RECIPE_VERSION" "$DEBIAN_SUITE" "$DEBIAN_MIRROR" | sha256sum | cut -c1-16)"
  if up_to_date "$BASE_TAG" "$hash" "${1:-0}"; then
    log "$BASE_TAG is up to date ($hash)"
    return
  fi
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing (apt-get install -y debootstrap)"
  [ "$(id -u)" = 0 ] || die "debootstrap needs root to build $BASE_TAG"
  log "building $BASE_TAG with debootstrap ($DEBIAN_SUITE, minbase)"
  local t0=$SECONDS rootfs="$WORK/rootfs"
  mkdir -p "$rootfs"
  debootstrap --variant=minbase "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" > "$WORK/debootstrap.log" 2>&1 \
    || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
  # Container-friendly apt defaults, like the official Debian images.
  cat > "$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
EOF
  echo 'APT::Install-Recommends "false";' > "$rootfs/etc/apt/apt.conf.d/docker-no-recommends"
  cat > "$rootfs/etc/apt/sources.list" <<EOF
deb $DEBIAN_MIRROR $DEBIAN_SUITE main
deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main
EOF
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/tmp/* "$rootfs"/var/log/*.log
  : > "$rootfs/etc/resolv.conf"
  tar -C "$rootfs" --numeric-owner -c . | "$DOCKER" import \
    --change "LABEL $HASH_LABEL=$hash" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    - "$BASE_TAG" >/dev/null
  rm -rf "$rootfs"
  log "built $BASE_TAG in $((SECONDS - t0)) s"
}

build_image() {  # NAME TAG [BUILD-ARG...]
  local name="$1" tag="$2"; shift 2
  local src="$HERE/$name" ctx="$WORK/ctx-$name" base_id hash t0=$SECONDS
  [ -f "$src/Dockerfile" ] || die "no Dockerfile in $src"
  build_base 0
  base_id="$(image_id "$BASE_TAG")"
  hash="$(context_hash "$src" "base=$base_id" "$@")"
  if up_to_date "$tag" "$hash" "$force"; then
    log "$tag is up to date ($hash)"
    return
  fi
  log "building $tag"
  rm -rf "$ctx"
  cp -a "$src" "$ctx"
  if [ -f "$CA_BUNDLE" ]; then
    cp "$CA_BUNDLE" "$ctx/ca-certificates.crt"
  else
    : > "$ctx/ca-certificates.crt"   # pip then uses its own bundle
  fi
  local args=(--network host --pull=false --build-arg "BASE_IMAGE=$BASE_TAG" --label "$HASH_LABEL=$hash" -t "$tag")
  local a
  for a in "$@"; do args+=(--build-arg "$a"); done
  local old_id new_id stage_ids
  old_id="$("$DOCKER" image inspect -f '{{ .Id }}' "$tag" 2>/dev/null || true)"
  DOCKER_BUILDKIT=0 "$DOCKER" build "${args[@]}" "$ctx" > "$WORK/build-$name.log" 2>&1 \
    || { tail -n 40 "$WORK/build-$name.log" >&2; die "building $tag failed"; }
  rm -rf "$ctx"
  # Drop the intermediate build stage (it holds the CA bundle copy) and the
  # image this one replaces (unless a container still uses it).
  stage_ids="$("$DOCKER" images -q --filter "label=org.lstk.standin.stage=build" 2>/dev/null | sort -u)"
  [ -z "$stage_ids" ] || "$DOCKER" rmi $stage_ids >/dev/null 2>&1 || true
  new_id="$(image_id "$tag")"
  if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
    "$DOCKER" rmi "$old_id" >/dev/null 2>&1 || true
  fi
  log "built $tag in $((SECONDS - t0)) s"
}

for t in "${targets[@]}"; do
  case "$t" in
    base) build_base "$force" ;;
    label-studio) build_image label-studio "$LS_TAG" "LS_VERSION=$LS_VERSION" ;;
    postgres) build_image postgres "$PG_TAG" "PG_MAJOR=$PG_MAJOR" ;;
    s3) build_image s3 "$S3_TAG" "MOTO_VERSION=$MOTO_VERSION" ;;
  esac
done

print_env
