#!/usr/bin/env bash
# Installs the external programs the tests use -- bcftools and tabix (oracles), Chromium (browser tests,
# driven by Playwright without its own browser download) -- from Debian's packages when they are missing
# and we may install them. Tests that need them skip with a reason otherwise.
set -u
missing=()
command -v bcftools >/dev/null 2>&1 || missing+=(bcftools)
command -v tabix >/dev/null 2>&1 || missing+=(tabix)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)  # Spark backend tests
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} from Debian's packages"
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
    || echo "warning: could not install ${missing[*]}; oracle tests fall back or skip"
else
  echo "warning: ${missing[*]} missing and not root; oracle tests fall back or skip"
fi
exit 0
