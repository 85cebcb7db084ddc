#!/usr/bin/env bash
# make collector-bundle: dist/soc-collector-<version>-offline.tar.gz, what an agency server without
# internet needs to install the collector: wheels for the collector and all its dependencies (Debian 12,
# CPython 3.11, x86-64), install.sh, the systemd unit, an example configuration, INSTALL texts.
#
#   scripts/collector-bundle.sh             fetch what is missing from PyPI into the wheel cache, then build
#   scripts/collector-bundle.sh --fetch     only fill the wheel cache (scripts/setup.sh does this)
#   scripts/collector-bundle.sh --offline   build from the wheel cache alone, no package index
#
#   BUNDLE_DIR         where the archive goes (default: dist)
#   SOC_WHEEL_CACHE    the wheel cache (default: ~/.cache/soc-collector/wheels): the dependencies' wheels
#                      for the target and the build backend the collector's own wheel is built with
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-}
case "$mode" in ""|--fetch|--offline) ;; *) echo "usage: $0 [--fetch | --offline]" >&2; exit 2 ;; esac
PY=${PYTHON:-.venv/bin/python}
version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' collectors/__init__.py)
[ -n "$version" ] || { echo "collector-bundle: no __version__ in collectors/__init__.py" >&2; exit 1; }
name="soc-collector-$version"
cache=${SOC_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/soc-collector/wheels}
mkdir -p "$cache"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage="$work/$name"
mkdir -p "$stage/wheels" "$work/src"
export PIP_DISABLE_PIP_VERSION_CHECK=1

# Debian 12 has glibc 2.36: every manylinux tag up to 2.36 runs there (manylinux2014 = manylinux_2_17).
target=(--only-binary=:all: --python-version 3.11 --implementation cp --abi cp311 --platform manylinux2014_x86_64)
for minor in $(seq 36 -1 17); do target+=(--platform "manylinux_2_${minor}_x86_64"); done

if [ "$mode" != "--offline" ]; then
  # The build backend of the collector's wheel (for --offline builds), then the dependencies.
  "$PY" -m pip download --quiet --only-binary=:all: --dest "$cache" "setuptools>=77" wheel
fi
index=()
[ "$mode" = "--offline" ] && index=(--no-index --find-links "$cache")

# The collector's wheel, built from a copy so that no build folder lands in the working tree.
tar -C . --exclude=__pycache__ --exclude='*.egg-info' --exclude=build -cf - collectors | tar -C "$work/src" -xf -
"$PY" -m pip wheel --quiet "${index[@]}" --no-deps --wheel-dir "$stage/wheels" "$work/src/collectors"
wheel="$stage/wheels/soc_collector-$version-py3-none-any.whl"
[ -f "$wheel" ] || { echo "collector-bundle: pip built no $wheel" >&2; exit 1; }

if [ "$mode" != "--offline" ]; then
  "$PY" -m pip download --quiet "${target[@]}" --dest "$cache" "$wheel"
  rm -f "$cache/$(basename "$wheel")"
fi
[ "$mode" = "--fetch" ] && exit 0
# Every dependency from the cache alone: what the bundle holds is what resolves without an index.
"$PY" -m pip download --quiet --no-index --find-links "$cache" "${target[@]}" --dest "$stage/wheels" "$wheel"

cp deploy/collector-bundle/install.sh deploy/collector-bundle/collector.example.yml \
   deploy/collector-bundle/INSTALL.en.txt deploy/collector-bundle/INSTALL.vi.txt \
   deploy/systemd/soc-collector.service "$stage/"
chmod 0755 "$stage/install.sh"
(cd "$stage/wheels" && sha256sum -- *.whl > ../SHA256SUMS)

out=${BUNDLE_DIR:-dist}
mkdir -p "$out"
archive="$(cd "$out" && pwd)/$name-offline.tar.gz"
tar -C "$work" --owner=0 --group=0 --numeric-owner --sort=name -czf "$archive.tmp" "$name"
mv "$archive.tmp" "$archive"
echo "collector-bundle: $archive ($(du -h "$archive" | cut -f1))"
