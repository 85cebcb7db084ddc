#!/usr/bin/env bash
# The main job: a local OpenSearch node, the service's indices, a real collector fed by real
# programs (nginx + curl, logger), a detection cycle grouped into incidents, then the API and
# console. Each step is real. Arguments go to the demo (--no-serve stops after detection).
set -euo pipefail
cd "$(dirname "$0")/.."
SOC=.venv/bin/soc
export SOC_HOME=${SOC_HOME:-$PWD/var}
mkdir -p "$SOC_HOME" && chmod 755 "$SOC_HOME"

echo "== starting the local OpenSearch node (the first run downloads it from Maven Central)"
$SOC opensearch start
echo "== creating the service's templates, data streams and indices"
$SOC init
.venv/bin/python -m soc.demo.run "$@"
echo "OpenSearch keeps running at http://127.0.0.1:${SOC_NODE_PORT:-9200}; stop it with: .venv/bin/soc opensearch stop"
