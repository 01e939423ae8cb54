#!/usr/bin/env bash
# Builds the posgate container image (Containerfile) with podman and checks
# it: the file system holds posgate and its data files and nothing to run
# besides (no shell), it runs as 65532, `posgate version` in it reports the
# stamped version, and `serve` in it starts, writes its database and answers
# /readyz. CI runs it with --dry-run (the image is removed afterwards).
#
# It skips, saying why, only when this machine cannot run containers: the
# image built and passed the checks that need no container, and the OCI
# runtime then refused to start one (podman's exit status 126, with the
# runtime's error). Any other failure fails. docs/operations.md says what
# podman needs on the project's machines.
set -euo pipefail
cd "$(dirname "$0")/.."

keep=1
if [ "${1:-}" = "--dry-run" ]; then keep=0; shift; fi
case "${1:-}" in -*)
  echo "usage: scripts/container.sh [--dry-run] [VERSION]" >&2
  exit 2
esac
version="${1:-$(git describe --tags --match 'v*' 2>/dev/null || echo v0.0.0-dev)}"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
image="localhost/posgate:$(printf %s "$version" | tr -c 'A-Za-z0-9_.-' '-')"
pkg=github.com/posgate/posgate/buildinfo
start=$SECONDS

# podman from Debian, with runc: Debian's crun (1.8) refuses hosts that mount
# cgroup v1 and v2 side by side ("cgroups in hybrid mode not supported"),
# which the project's machines do; runc runs there and everywhere else.
if ! command -v podman >/dev/null || ! command -v runc >/dev/null; then
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null ||
    { echo "podman and runc are needed (Debian: apt-get install podman runc)" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends podman runc >/dev/null ||
    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends podman runc >/dev/null; }
fi
podman --version

# The host's CA bundle and time zone database go into the image.
certs=""
for f in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
  [ -s "$f" ] && { certs=$f; break; }
done
[ -n "$certs" ] || { echo "no CA bundle on this host (Debian: apt-get install ca-certificates)" >&2; exit 1; }
[ -f /usr/share/zoneinfo/UTC ] || { echo "no /usr/share/zoneinfo (Debian: apt-get install tzdata)" >&2; exit 1; }

ctx=$(mktemp -d)
ctr=""
cleanup() {
  [ -z "$ctr" ] || podman rm -f -v "$ctr" >/dev/null 2>&1 || true
  [ "$keep" = 1 ] || podman rmi -f "$image" >/dev/null 2>&1 || true
  rm -rf "$ctx"
}
trap cleanup EXIT

echo "stage: static build of ./cmd/posgate ($version), $certs, /usr/share/zoneinfo"
root="$ctx/rootfs"
mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/usr/share" "$root/var/lib" "$ctx/state" "$ctx/tmp"
CGO_ENABLED=0 GOOS=linux go build -trimpath \
  -ldflags "-s -w -X $pkg.version=$version -X $pkg.revision=$revision" \
  -o "$root/usr/local/bin/posgate" ./cmd/posgate
cp "$certs" "$root/etc/ssl/certs/ca-certificates.crt"
cp -R /usr/share/zoneinfo "$root/usr/share/zoneinfo"
rm -f "$root/usr/share/zoneinfo/localtime" # a link to the host's /etc/localtime
printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nonroot:x:65532:65532:nonroot:/var/lib/posgate:/sbin/nologin' >"$root/etc/passwd"
printf '%s\n' 'root:x:0:' 'nonroot:x:65532:' >"$root/etc/group"

echo "build: $image"
podman build -q --layers=false -f Containerfile --build-arg "VERSION=$version" --build-arg "REVISION=$revision" -t "$image" "$ctx" >/dev/null

fail() { echo "container image: $*" >&2; exit 1; }

# Checks that need no container: the image's user and its whole file system.
user=$(podman image inspect --format '{{.Config.User}}' "$image")
[ "$user" = "65532:65532" ] || fail "runs as '$user', not 65532:65532"
ctr=$(podman create "$image")
files=$(podman export "$ctr" | tar -tvf -)
podman rm -v "$ctr" >/dev/null
ctr=""
execs=$(echo "$files" | awk '$1 ~ /^-/ && $1 ~ /x/ {print $NF}')
[ "$execs" = "usr/local/bin/posgate" ] || fail "executables other than posgate: $(echo "$execs" | tr '\n' ' ')"
! grep -Eq ' (usr/)?s?bin/' <<<"$files" || fail "has a bin directory"
grep -q ' etc/ssl/certs/ca-certificates.crt$' <<<"$files" || fail "no CA bundle"
grep -q ' usr/share/zoneinfo/Europe/Amsterdam$' <<<"$files" || fail "no time zone database"
grep -Eq '^d.* nonroot/nonroot .* var/lib/posgate/$' <<<"$files" || fail "/var/lib/posgate is not nonroot's"
echo "files: $(echo "$files" | wc -l) entries, one executable (usr/local/bin/posgate), no shell"

# The run flags this machine needs: podman asks for open-file and process
# limits above the hard limits it runs under, and raising them needs
# CAP_SYS_RESOURCE, which the project's sandboxes do not have.
nofile=$(ulimit -Hn)
[ "$nofile" != unlimited ] || nofile=1048576
run=(--runtime runc --ulimit "nofile=$nofile:$nofile" --ulimit nproc=4096:4096)

set +e
out=$(podman run --rm --network none "${run[@]}" "$image" version 2>&1)
rc=$?
set -e
if [ "$rc" = 126 ] && grep -q 'OCI' <<<"$out"; then
  echo "SKIP running the image: podman cannot run containers on this machine (exit $rc):"
  echo "$out" | sed 's/^/  /'
  echo "container image built and checked without running it ($((SECONDS - start))s)"
  exit 0
fi
[ "$rc" = 0 ] || fail "posgate version exited $rc: $out"
echo "$out" | head -2
grep -qx "version  *$version" <<<"$out" || fail "does not report version $version"
grep -qx "revision  *$revision" <<<"$out" || fail "does not report revision $revision"
! podman run --rm --network none "${run[@]}" --entrypoint /bin/sh "$image" -c true >/dev/null 2>&1 ||
  fail "/bin/sh runs in it"

# serve as nonroot: it creates its database in the volume and answers.
ctr=$(podman run -d "${run[@]}" -p 127.0.0.1::8080 -e POSGATE_ACQUIRER=simulated "$image")
port=$(podman port "$ctr" 8080/tcp | sed 's/.*://')
ready=$(curl -s --retry 50 --retry-delay 0 --retry-max-time 30 --retry-all-errors "http://127.0.0.1:$port/readyz") ||
  fail "serve did not answer /readyz: $(podman logs "$ctr" 2>&1 | tail -5)"
echo "readyz: $ready"
grep -q '"acquirer":"simulated"' <<<"$ready" || fail "unexpected /readyz: $ready"
uid=$(podman top "$ctr" huser | tail -n +2 | sort -u)
[ "$uid" = 65532 ] || fail "serve runs as '$uid', not 65532"
podman exec "$ctr" /usr/local/bin/posgate migrate status >/dev/null || fail "no database in /var/lib/posgate"

[ "$keep" = 1 ] && kept=", kept as $image" || kept=""
echo "container image ok: $version ($revision), $(podman image inspect --format '{{.Size}}' "$image") bytes$kept ($((SECONDS - start))s)"
