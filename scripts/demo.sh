#!/usr/bin/env bash
# The main job on a fresh machine, fully offline: start `attestkit serve` (a package
# index with the embedded Sigstore), then do what a GitHub Actions release job does:
# exchange its OIDC token for an upload token (Trusted Publishing), sign the dists,
# upload them with their attestations, and finally install the package from the index
# and verify where it came from. Also verifies real PyPI attestations offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
AK=.venv/bin/attestkit
D=tests/data
work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
# fetch URL [FILE] [ACCEPT]: an HTTP GET without needing curl on the machine.
fetch() {
  .venv/bin/python -c 'import sys, urllib.request as u
r = u.urlopen(u.Request(sys.argv[1], headers={"Accept": sys.argv[3]} if len(sys.argv) > 3 else {}))
data = r.read()
open(sys.argv[2], "wb").write(data) if len(sys.argv) > 2 and sys.argv[2] != "-" else sys.stdout.buffer.write(data)' "$@"
}

echo "== start the index with the embedded Sigstore (OIDC issuer, CA, transparency log)"
$AK serve --dev --port 0 --data-dir "$work/data" > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q serving "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/.*serving \(http[^ ]*\).*/\1/p' "$work/serve.log" | head -n 1)
echo "serving at $url"

echo
echo "== the maintainer registers a (pending) Trusted Publisher: GitHub octo/demo release.yml"
$AK index --data-dir "$work/data" user add alice
$AK index --data-dir "$work/data" publisher add --pending rfc8785 --owner alice \
  --github octo/demo --workflow release.yml

echo
echo "== the release job: sign the wheel as workflow octo/demo release.yml"
mkdir "$work/dist"
cp "$D/rfc8785-0.1.2-py3-none-any.whl" "$work/dist/"
# The variables a GitHub runner sets; attestkit finds the token ambiently, through `id`.
eval "$($AK sigstore token --data-dir "$work/data/sigstore" --url "$url" --github octo/demo \
  --workflow release.yml --ref refs/tags/v1.0 --print-env)"
$AK sign --local "$url" "$work"/dist/*.whl
unset GITHUB_ACTIONS ACTIONS_ID_TOKEN_REQUEST_URL ACTIONS_ID_TOKEN_REQUEST_TOKEN

echo
echo "== Trusted Publishing: exchange the job's OIDC token for a 15-minute upload token"
oidc=$($AK sigstore token --data-dir "$work/data/sigstore" --github octo/demo \
  --workflow release.yml --ref refs/tags/v1.0 --audience attestkit)
upload_token=$(.venv/bin/python -c 'import json,sys,urllib.request as u
r=u.urlopen(u.Request(sys.argv[1]+"/_/oidc/mint-token",json.dumps({"token":sys.argv[2]}).encode(),{"Content-Type":"application/json"}))
print(json.load(r)["token"])' "$url" "$oidc")
echo "minted ${upload_token:0:12}..."

echo
echo "== upload with attestations (the real twine), verified by the index against the publisher"
.venv/bin/twine upload --attestations --disable-progress-bar --non-interactive \
  --repository-url "$url/legacy/" -u __token__ -p "$upload_token" "$work"/dist/*

echo
echo "== a user installs it from the index, then checks where it came from"
.venv/bin/pip install --quiet --no-deps --no-cache-dir --disable-pip-version-check \
  --target "$work/site" --index-url "$url/simple/" rfc8785==0.1.2
ls "$work/site" | grep dist-info
mkdir "$work/check"
file_url=$(fetch "$url/simple/rfc8785/" - application/vnd.pypi.simple.v1+json |
  .venv/bin/python -c 'import json, sys; print(json.load(sys.stdin)["files"][0]["url"])')
fetch "$file_url" "$work/check/rfc8785-0.1.2-py3-none-any.whl"
fetch "$url/integrity/rfc8785/0.1.2/rfc8785-0.1.2-py3-none-any.whl/provenance" \
  "$work/check/rfc8785-0.1.2-py3-none-any.whl.provenance"
fetch "$url/trust-config.json" "$work/trust.json"
$AK verify provenance --trust-config "$work/trust.json" \
  --repository https://github.com/octo/demo --workflow release.yml "$work/check/rfc8785-0.1.2-py3-none-any.whl"
echo "provenance page: $url/project/rfc8785/"

echo
echo "== before installing: check a whole lock file (hash-pinned requirements) and pin its publishers"
sha=$(.venv/bin/python -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' \
  "$work/check/rfc8785-0.1.2-py3-none-any.whl")
printf 'rfc8785==0.1.2 --hash=sha256:%s\n' "$sha" > "$work/requirements.txt"
$AK pin "$work/requirements.txt" --index-url "$url/simple/" --trust-config "$url/trust-config.json" --no-cache
$AK verify lock "$work/requirements.txt" --index-url "$url/simple/" \
  --trust-config "$url/trust-config.json" --no-cache

echo
echo "== verify real attestations published on PyPI (production Sigstore, offline)"
$AK verify attestation --repository https://github.com/trailofbits/pypi-attestations \
  --workflow release.yml "$D/pypi_attestations-0.0.19.tar.gz"

echo
echo "== tampering and the wrong publisher are caught (each expected to FAIL)"
printf 'x' >> "$work/check/rfc8785-0.1.2-py3-none-any.whl"
if $AK verify provenance --trust-config "$work/trust.json" \
  --repository https://github.com/octo/demo "$work/check/rfc8785-0.1.2-py3-none-any.whl"; then
  echo "demo: the tampered file was NOT caught" >&2
  exit 1
fi
if $AK verify attestation --repository https://github.com/someone/else "$D/pypi_attestations-0.0.19.tar.gz"; then
  echo "demo: the wrong publisher was NOT caught" >&2
  exit 1
fi
echo
echo "demo: all good"
