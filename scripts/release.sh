#!/usr/bin/env bash
# Release dry run: builds posgate for every target of .goreleaser.yaml with
# the same static, stamped build into a temporary directory, and checks that
# the native build reports the stamped version. CI runs it so a change that
# breaks a release target or the version stamp fails before a tag is pushed.
# Releases themselves are made by goreleaser (docs/releasing.md).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--dry-run" ]; then
  echo "usage: scripts/release.sh --dry-run [VERSION]" >&2
  echo "releases are made with goreleaser; see docs/releasing.md" >&2
  exit 2
fi
version="${2:-$(git describe --tags --match 'v*' 2>/dev/null || echo v0.0.0-dryrun)}"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"

# The targets and the stamped variables are read from .goreleaser.yaml, so
# this check and the real release cannot build different things.
list() { sed -n "s/^ *$1: *\[\(.*\)\]/\1/p" .goreleaser.yaml | tr -d ' ' | tr ',' ' '; }
goos=$(list goos)
goarch=$(list goarch)
[ -n "$goos" ] && [ -n "$goarch" ] || { echo "no goos/goarch in .goreleaser.yaml" >&2; exit 1; }
pkg=github.com/posgate/posgate/buildinfo
for v in version revision; do
  grep -q -- "-X $pkg.$v=" .goreleaser.yaml || { echo ".goreleaser.yaml does not stamp $pkg.$v" >&2; exit 1; }
done

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for os in $goos; do
  for arch in $goarch; do
    echo "build $os/$arch"
    CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath \
      -ldflags "-s -w -X $pkg.version=$version -X $pkg.revision=$revision" \
      -o "$out/${os}_$arch/posgate" ./cmd/posgate
    go version -m "$out/${os}_$arch/posgate" | grep -q 'CGO_ENABLED=0' ||
      { echo "$os/$arch: not a static (CGO_ENABLED=0) build" >&2; exit 1; }
  done
done

native="$out/$(go env GOOS)_$(go env GOARCH)/posgate"
if [ -x "$native" ]; then
  got=$("$native" version)
  echo "$got" | head -3
  echo "$got" | grep -qx "version  *$version" || { echo "native build does not report version $version" >&2; exit 1; }
  echo "$got" | grep -qx "revision  *$revision" || { echo "native build does not report revision $revision" >&2; exit 1; }
else
  echo "$(go env GOOS)/$(go env GOARCH) is not a release target: the version was not run"
fi
echo "release dry run ok: $version ($revision), targets: $(ls "$out" | tr '\n' ' ')"
