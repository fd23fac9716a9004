#!/usr/bin/env bash
# The main job on a fresh machine: set up, then inspect and verify real PyPI
# attestations offline (production and staging Sigstore trust roots), and show
# a tampered file being caught.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
AK=.venv/bin/attestkit
D=tests/data
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== inspect: what the attestation claims (unverified)"
$AK inspect "$D/pypi_attestations-0.0.19.tar.gz.publish.attestation"
echo
echo "== verify: GitHub Trusted Publisher (publish + SLSA attestations)"
$AK verify attestation --repository https://github.com/trailofbits/pypi-attestations \
  --workflow release.yml "$D/pypi_attestations-0.0.19.tar.gz"
echo "== verify: GitLab Trusted Publisher"
$AK verify attestation --repository https://gitlab.com/facutuesca/gitlab-oidc-project \
  --workflow .gitlab-ci.yml "$D/gitlab_oidc_project-0.0.3.tar.gz"
echo "== verify: a provenance object from PyPI's Integrity API"
$AK verify provenance --repository https://github.com/trailofbits/pypi-attestations \
  "$D/pypi_attestations-0.0.19.tar.gz"
echo "== convert a staging Sigstore bundle to an attestation, then verify it"
cp "$D/rfc8785-0.1.2-py3-none-any.whl" "$D/rfc8785-0.1.2-py3-none-any.whl.sigstore" "$work/"
$AK convert "$work/rfc8785-0.1.2-py3-none-any.whl.sigstore"
$AK verify attestation --staging --identity william@yossarian.net \
  --issuer https://github.com/login/oauth "$work/rfc8785-0.1.2-py3-none-any.whl"
echo
echo "== tampering is caught (expected to FAIL)"
cp "$D"/pypi_attestations-0.0.19.tar.gz* "$work/"
printf 'x' >> "$work/pypi_attestations-0.0.19.tar.gz"
if $AK verify attestation --repository https://github.com/trailofbits/pypi-attestations \
  "$work/pypi_attestations-0.0.19.tar.gz"; then
  echo "demo: tampered file was NOT caught" >&2
  exit 1
fi
echo
echo "demo: all good"
