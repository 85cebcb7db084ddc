#!/usr/bin/env bash
# Installs soc-collector from the wheels in this folder, without any package index.
#   ./install.sh [--prefix DIR]     (default /opt/soc-collector)
# The collector goes into a virtual environment at DIR; its command is DIR/bin/soc-collector.
# Running it again with a newer bundle upgrades in place. Nothing here reads or runs a configuration.
set -euo pipefail

usage() { echo "usage: $0 [--prefix DIR]   (default: /opt/soc-collector)"; }

prefix=/opt/soc-collector
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || { usage >&2; exit 2; }; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
[ -n "$prefix" ] || { echo "install.sh: --prefix is empty" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python3}
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "install.sh: $PY not found; install Python 3.11 (Debian 12: apt install python3 python3-venv)" >&2
  exit 1
fi
# The wheels are built for CPython 3.11 on x86-64 Linux (Debian 12).
if ! "$PY" -c 'import platform, sys; sys.exit(0 if sys.version_info[:2] == (3, 11) and platform.machine() == "x86_64" else 1)'; then
  echo "install.sh: this bundle is for CPython 3.11 on x86-64; $PY is $("$PY" -c 'import platform, sys; print(sys.version.split()[0], platform.machine())')" >&2
  exit 1
fi
if ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  echo "install.sh: Python's venv module is missing (Debian 12: apt install python3-venv, from the installation media if offline)" >&2
  exit 1
fi

mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
if [ ! -x "$prefix/bin/python" ]; then
  "$PY" -m venv "$prefix"
fi
# No index, no version check: everything comes from wheels/.
export PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
"$prefix/bin/python" -m pip install --quiet --no-index --find-links "$here/wheels" --upgrade soc-collector
"$prefix/bin/soc-collector" --help >/dev/null

share="$prefix/share/soc-collector"
mkdir -p "$share"
unit=$(<"$here/soc-collector.service")
printf '%s\n' "${unit//"/opt/soc-collector/bin/soc-collector"/"$prefix/bin/soc-collector"}" > "$share/soc-collector.service"
cp "$here/collector.example.yml" "$here/INSTALL.en.txt" "$here/INSTALL.vi.txt" "$share/"

version=$("$prefix/bin/python" -c 'import collectors; print(collectors.__version__)')
cat <<NEXT
soc-collector $version installed in $prefix

Next steps (as root):
  useradd --system --home-dir /var/lib/soc-collector --shell /usr/sbin/nologin soc-collector
  install -d -m 0750 -g soc-collector /etc/soc
  install -m 0640 -g soc-collector $share/collector.example.yml /etc/soc/collector.yml
  # edit /etc/soc/collector.yml (agency, collector id, OpenSearch URL, user, password, sources), then:
  $prefix/bin/soc-collector check -c /etc/soc/collector.yml
  install -m 0644 $share/soc-collector.service /etc/systemd/system/soc-collector.service
  systemctl daemon-reload && systemctl enable --now soc-collector
  curl -s http://127.0.0.1:9108/health
NEXT
