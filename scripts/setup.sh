#!/usr/bin/env bash
# Install what the service, its demo and its tests need, when missing; then the virtualenv.
# Debian packages: Java 17 and Maven (the local OpenSearch node), rsyslog, nginx and bsdutils'
# logger (real clients in tests), openssl, curl, chromium (console tests), poppler-utils,
# Pango and fonts with Vietnamese glyphs (PDF reports).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  openjdk-17-jre-headless maven
  python3 python3-venv
  rsyslog rsyslog-openssl rsyslog-gnutls rsyslog-elasticsearch nginx-light bsdutils openssl curl procps
  chromium fonts-noto-core fonts-dejavu-core
  libpango-1.0-0 libpangoft2-1.0-0 poppler-utils
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "setup: Python 3.11 or newer is needed ($PY is $("$PY" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ collectors/pyproject.toml -nt "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  # Two distributions from this tree: the collector's (./collectors) and the service, which depends on it.
  .venv/bin/pip install -q -e ./collectors -e '.[test,dev]'
  # A virtualenv from before the split had the soc-collector script from the service's distribution,
  # and replacing that distribution removed it again: put it back.
  [ -x .venv/bin/soc-collector ] || .venv/bin/pip install -q --no-deps --force-reinstall -e ./collectors
  touch "$stamp"
fi

# The wheels of the collector's offline bundle, for `make collector-bundle` and the bundle's test
# (which builds it with no package index); fetched again when the collector's dependencies change.
wheels=${SOC_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/soc-collector/wheels}
fetched="$wheels/.fetched-$(sha256sum collectors/pyproject.toml | cut -c1-16)"
if [ ! -f "$fetched" ]; then
  echo "setup: fetching the collector bundle's wheels into $wheels"
  PYTHON=.venv/bin/python bash scripts/collector-bundle.sh --fetch
  touch "$fetched"
fi
