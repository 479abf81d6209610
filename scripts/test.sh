#!/usr/bin/env bash
# All checks of the project, exactly as CI runs them: see .ci/run.
set -euo pipefail
exec "$(dirname "$0")/../.ci/run"
