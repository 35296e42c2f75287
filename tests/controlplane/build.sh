#!/usr/bin/env bash
# Builds the test control plane (one binary: etcd + kube-apiserver + kube-controller-manager + kubectl,
# see main.go) into a cache outside the repository and prints the binary's path on stdout.
# The cache key is a hash of go.mod, go.sum, the Go sources, the build flags and `go version`, so a second
# run with nothing changed returns at once. Cache root:
#   ${CANARY_CONTROLPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/canary-console/controlplane}/<key>/
# Next to the binary: `kubectl` (a symlink to it) and gateway-api-crds/ (the Gateway API standard CRDs
# from the pinned sigs.k8s.io/gateway-api module). Exit 3: no `go` on PATH.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
GATEWAY_API_VERSION=v1.4.1
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly
command -v go >/dev/null 2>&1 || { echo "build.sh: go is not on PATH (Go 1.26 or newer is needed)" >&2; exit 3; }
release=$(sed -n 's/^[[:space:]]*k8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' "$here/go.mod" | head -1)
minor=${release#v1.}; minor=${minor%%.*}
# Stamp the release into /version (as upstream's release build does), so kubectl and the server report it.
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$release -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
key=$( { cat "$here/go.mod" "$here/go.sum" "$here"/*.go; echo "$ldflags $GATEWAY_API_VERSION"; go version; } \
       | sha256sum | cut -c1-16)
root=${CANARY_CONTROLPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/canary-console/controlplane}
out=$root/$key
if [[ -x $out/canary-controlplane && -d $out/gateway-api-crds ]]; then
  echo "$out/canary-controlplane"
  exit 0
fi
mkdir -p "$root"
tmp=$(mktemp -d "$root/.build-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "build.sh: building the control plane into $out (cold: about 15 minutes on 2 CPUs)" >&2
(cd "$here" && go build -trimpath -ldflags="$ldflags" -o "$tmp/canary-controlplane" .)
ln -s canary-controlplane "$tmp/kubectl"
gateway_dir=$(cd "$here" && go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" \
              | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
mkdir "$tmp/gateway-api-crds"
cp "$gateway_dir"/config/crd/standard/*.yaml "$tmp/gateway-api-crds/"
chmod -R u+w "$tmp"
# Publish atomically; a concurrent build that finished first wins and this one is discarded.
mv -T "$tmp" "$out" 2>/dev/null || true
echo "$out/canary-controlplane"
