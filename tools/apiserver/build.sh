#!/usr/bin/env bash
# Build the real kube-apiserver, kube-controller-manager and etcd used as a test oracle (issue #12)
# into <repo>/.cache/apiserver/bin/. Versions are pinned by go.mod/go.sum next to this script.
# Needs Go >= the `go` line of go.mod and the Go module proxy (or a warm GOMODCACHE).
# Does nothing when every binary is newer than go.mod, go.sum, this script and cmd/*/main.go.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$root/.cache/apiserver/bin"
cmds=(kube-apiserver kube-controller-manager etcd)

command -v go >/dev/null || { echo "build.sh: 'go' not found on PATH (need Go $(awk '$1=="go"{print $2}' "$here/go.mod")+)" >&2; exit 1; }

up_to_date() {
    local c newer
    for c in "${cmds[@]}"; do
        [[ -x "$bin/$c" ]] || return 1
        newer="$(find "$here/go.mod" "$here/go.sum" "$here/build.sh" "$here"/cmd/*/main.go -newer "$bin/$c" | head -n1)"
        [[ -z "$newer" ]] || return 1
    done
}

if up_to_date; then
    echo "build.sh: $bin is up to date"
    exit 0
fi

# /version reports the pinned release, as an upstream build would (upstream stamps it the same way)
k8s="$(awk '$1=="k8s.io/kubernetes"{print $2}' "$here/go.mod")"
[[ "$k8s" =~ ^v([0-9]+)\.([0-9]+)\. ]] || { echo "build.sh: no k8s.io/kubernetes version in go.mod" >&2; exit 1; }
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$k8s -X $pkg.gitMajor=${BASH_REMATCH[1]} -X $pkg.gitMinor=${BASH_REMATCH[2]}"
    ldflags+=" -X $pkg.gitTreeState=clean"
done

mkdir -p "$bin"
echo "build.sh: building ${cmds[*]} (k8s.io/kubernetes $k8s) into $bin"
cd "$here"
# -mod=readonly: go.sum is the pin; a missing or mismatched sum is an error, never an update
go build -mod=readonly -trimpath -buildvcs=false -ldflags="$ldflags" -o "$bin/" "${cmds[@]/#/./cmd/}"
# go build leaves an identical binary untouched; stamp it so the check above sees it as fresh
for c in "${cmds[@]}"; do touch "$bin/$c"; done
ls -l "${cmds[@]/#/$bin/}"
