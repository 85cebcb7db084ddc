#!/usr/bin/env bash
# Debian's syslog-ng-core conflicts with rsyslog (both provide system-log-daemon), and the tests need
# both. So syslog-ng's Debian package is downloaded and unpacked (not installed) into the cache, with
# the libraries it needs installed normally; tests run that real binary. Prints its folder.
set -euo pipefail
cache=${SOC_CACHE_DIR:-$([ "$(id -u)" -eq 0 ] && echo /var/cache/soc-service || echo "$HOME/.cache/soc-service")}
dest="$cache/syslog-ng"
if [ ! -x "$dest/usr/sbin/syslog-ng" ]; then
  libs=(libpcre3 libivykis0 libnet1 libwrap0 libjson-c5 libglib2.0-0 libcap2 libssl3)
  missing=()
  for p in "${libs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  if [ ${#missing[@]} -gt 0 ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  tmp=$(mktemp -d)
  chmod 777 "$tmp"   # apt's download user must be able to write there
  (cd "$tmp" && apt-get download -qq syslog-ng-core >/dev/null 2>&1 || { $SUDO apt-get update -qq && apt-get download -qq syslog-ng-core; })
  mkdir -p "$dest.partial"
  dpkg -x "$tmp"/syslog-ng-core_*.deb "$dest.partial"
  rm -rf "$tmp" "$dest"
  mv "$dest.partial" "$dest"
fi
echo "$dest"
