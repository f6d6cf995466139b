#!/usr/bin/env bash
# Fetch the GraphiQL page's third-party assets from the npm registry into vendor/, pinned
# by version and checked against the registry's sha512 integrity. The files are checked
# in, so building needs no network; run this only to change a version (then update the
# versions in src/graphiql.rs's paths, which make browsers fetch the new files).
#
#   bash crates/server/assets/graphiql/fetch.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
out=vendor
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# package@version, its tarball's integrity, and the files taken from it (as name=path).
fetch() {
    local spec="$1" integrity="$2"
    shift 2
    echo "fetching $spec"
    local tarball
    tarball="$(cd "$work" && npm pack --silent "$spec")"
    local actual
    actual="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w0)"
    if [ "$actual" != "$integrity" ]; then
        echo "error: $spec: integrity $actual, expected $integrity" >&2
        exit 1
    fi
    local dir="$work/${tarball%.tgz}"
    mkdir -p "$dir"
    tar -xzf "$work/$tarball" -C "$dir"
    local pair
    for pair in "$@"; do
        cp "$dir/package/${pair#*=}" "$out/${pair%%=*}"
    done
}

rm -rf "$out"
mkdir -p "$out"
fetch react@18.3.1 \
    'sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ==' \
    react.production.min.js=umd/react.production.min.js \
    LICENSE.react=LICENSE
fetch react-dom@18.3.1 \
    'sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw==' \
    react-dom.production.min.js=umd/react-dom.production.min.js \
    LICENSE.react-dom=LICENSE
fetch graphiql@4.1.2 \
    'sha512-rNlzQIAzm6i2KBXmVQWBgLvt0TloxFVB2d18bukvdsvjEuFDHsKx5IVOomL1W1o5WW+tE54+ioHb2AEKzO2cUg==' \
    graphiql.min.js=graphiql.min.js \
    graphiql.min.css=graphiql.min.css \
    LICENSE.graphiql=LICENSE
# The source map comments point at files that are not served.
sed -i '/^\/\/# sourceMappingURL=/d' "$out"/*.js
(cd "$out" && sha256sum -- * > SHA256SUMS)
echo "done: $(du -sh "$out" | cut -f1) in $out"
