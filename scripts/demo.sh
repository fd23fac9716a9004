#!/usr/bin/env bash
# The main job on a fresh machine: set up, start the embedded local Sigstore, sign
# real distributions as a GitHub Actions workflow would, then inspect and verify
# them; verify real PyPI attestations offline; show tampering being caught.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
AK=.venv/bin/attestkit
D=tests/data
work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

echo "== start the embedded Sigstore instance (OIDC issuer, CA, transparency log)"
$AK sigstore serve --data-dir "$work/sigstore" > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q serving "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/.*serving \(http[^ ]*\).*/\1/p' "$work/serve.log")
echo "serving at $url"
$AK sigstore trust-config --data-dir "$work/sigstore" -o "$work/trust.json"

echo
echo "== sign two real distributions as GitHub Actions workflow octo/demo release.yml"
mkdir "$work/dist"
cp "$D/pypi_attestations-0.0.19.tar.gz" "$D/rfc8785-0.1.2-py3-none-any.whl" "$work/dist/"
# The variables a GitHub runner sets; attestkit finds the token ambiently, through `id`.
eval "$($AK sigstore token --data-dir "$work/sigstore" --github octo/demo \
  --workflow release.yml --ref refs/tags/v1.0 --print-env)"
$AK sign --local "$url" "$work"/dist/*
unset GITHUB_ACTIONS ACTIONS_ID_TOKEN_REQUEST_URL ACTIONS_ID_TOKEN_REQUEST_TOKEN

echo
echo "== inspect what one attestation claims"
$AK inspect "$work/dist/rfc8785-0.1.2-py3-none-any.whl.publish.attestation"

echo
echo "== verify against the expected Trusted Publisher (offline, local trust root)"
$AK verify attestation --trust-config "$work/trust.json" \
  --repository https://github.com/octo/demo --workflow release.yml "$work"/dist/*

echo
echo "== verify real attestations published on PyPI (production Sigstore, offline)"
$AK verify attestation --repository https://github.com/trailofbits/pypi-attestations \
  --workflow release.yml "$D/pypi_attestations-0.0.19.tar.gz"
$AK verify attestation --repository https://gitlab.com/facutuesca/gitlab-oidc-project \
  --workflow .gitlab-ci.yml "$D/gitlab_oidc_project-0.0.3.tar.gz"

echo
echo "== tampering is caught (each expected to FAIL)"
printf 'x' >> "$work/dist/pypi_attestations-0.0.19.tar.gz"
if $AK verify attestation --trust-config "$work/trust.json" \
  --repository https://github.com/octo/demo "$work/dist/pypi_attestations-0.0.19.tar.gz"; then
  echo "demo: the tampered file was NOT caught" >&2
  exit 1
fi
if $AK verify attestation --trust-config "$work/trust.json" \
  --repository https://github.com/someone/else "$work/dist/rfc8785-0.1.2-py3-none-any.whl"; then
  echo "demo: the wrong publisher was NOT caught" >&2
  exit 1
fi
echo
echo "demo: all good"
