#!/usr/bin/env bash
# The main job: a local OpenSearch node, the service's indices, and what exists of the pipeline.
# Each step is real; a step that is not built yet is not pretended.
set -euo pipefail
cd "$(dirname "$0")/.."
SOC=.venv/bin/soc
export SOC_HOME=${SOC_HOME:-$PWD/var}
mkdir -p "$SOC_HOME" && chmod 755 "$SOC_HOME"

echo "== starting the local OpenSearch node (first run downloads it from Maven Central)"
$SOC opensearch start
echo "== creating the service's templates, data streams and indices"
$SOC init
echo
echo "OpenSearch is running at http://127.0.0.1:${SOC_NODE_PORT:-9200}; stop it with: .venv/bin/soc opensearch stop"
