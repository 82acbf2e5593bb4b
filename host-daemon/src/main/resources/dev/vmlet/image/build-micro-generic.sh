#!/usr/bin/env bash
# Builds the micro-generic image: the micro image on Debian's generic kernel with its 9p modules,
# for 9p shares (the micro image keeps the cloud kernel, which boots faster and has no 9p).
# Usage: build-micro-generic.sh AGENT_JAR OUT_DIR DOWNLOAD_DIR
set -euo pipefail
exec bash "$(dirname "$0")/build-micro.sh" "$1" "$2" "$3" generic
