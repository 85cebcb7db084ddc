#!/usr/bin/env bash
# The main job: a local OpenSearch node, the service's indices, a real collector fed by real
# programs (nginx + curl, logger), a detection cycle grouped into incidents, then the API and
# console. Each step is real. Arguments go to the demo (--no-serve stops after detection).
set -euo pipefail
cd "$(dirname "$0")/.."
SOC=.venv/bin/soc
# The node runs as a service user when started by root, and nginx's workers as www-data: both must
# reach their folders. A clone in a private home folder (e.g. /root) is not reachable by them, so the
# demo's data then lives under /var/lib/soc-demo instead of ./var.
reachable() {
  local d=$1
  while [ "$d" != "/" ]; do
    [ -e "$d" ] && [ $(( 0$(stat -c %a "$d") & 1 )) -eq 0 ] && return 1
    d=$(dirname "$d")
  done
  return 0
}
if [ -z "${SOC_HOME:-}" ]; then
  if [ "$(id -u)" -eq 0 ] && ! reachable "$PWD"; then SOC_HOME=/var/lib/soc-demo; else SOC_HOME=$PWD/var; fi
fi
export SOC_HOME
mkdir -p "$SOC_HOME" && chmod 755 "$SOC_HOME"

echo "== starting the local OpenSearch node (the first run downloads it from Maven Central)"
$SOC opensearch start
echo "== creating the service's templates, data streams and indices"
$SOC init
.venv/bin/python -m soc.demo.run "$@"
echo "OpenSearch keeps running at http://127.0.0.1:${SOC_NODE_PORT:-9200}; stop it with: .venv/bin/soc opensearch stop --home $SOC_HOME"
