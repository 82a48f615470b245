#!/usr/bin/env bash
# mmood's two commands (see README):
#   bash run.sh                              install if needed, then the main job (below)
#   bash run.sh test                         install with the test extra if needed, run the test suite
#   bash run.sh CONFIG [CHECKPOINT] [args]   pass through to tools/test.py
# Main job: NegLabel (configs/neglabel/neglabel_vitb16.py) on ImageNet vs iNaturalist/SUN/Places/Textures when the data
# under data/ and the CLIP weights are present; otherwise the offline demo (tools/demo.py).
set -eo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python}
command -v "$PY" >/dev/null 2>&1 || PY=python3
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
export PIP_DISABLE_PIP_VERSION_CHECK=1

installed() {
    # mmood importable from this checkout, plus the given extra modules
    "$PY" - "$@" <<'PYEOF' >/dev/null 2>&1
import importlib, os, sys
import mmood
here = os.path.realpath('.')
assert os.path.realpath(mmood.__file__).startswith(here + os.sep)
for name in sys.argv[1:]:
    importlib.import_module(name)
PYEOF
}

install() {
    local extras=$1
    echo "[run.sh] installing mmood${extras:+[$extras]} into $("$PY" -c 'import sys; print(sys.prefix)')"
    # torch first (stack.md): the pinned CPU/CUDA build, then everything else under the same constraints
    "$PY" -m pip install -q -c requirements/constraints.txt torch
    "$PY" -m pip install -q -c requirements/constraints.txt -e ".${extras:+[$extras]}"
}

case "${1:-}" in
    test)
        shift
        installed pytest clip transformers || install test
        exec "$PY" -m pytest tests -q "$@"
        ;;
    "")
        installed || install ""
        if "$PY" tools/verify_data.py configs/neglabel/neglabel_vitb16.py --check-weights --no-decode >/tmp/mmood_ready.$$ 2>&1; then
            rm -f /tmp/mmood_ready.$$
            exec "$PY" tools/test.py configs/neglabel/neglabel_vitb16.py
        fi
        echo "[run.sh] The ImageNet benchmark is not ready here (data under data/ and CLIP weights; details:"
        sed 's/^/    /' /tmp/mmood_ready.$$ | tail -n 12
        rm -f /tmp/mmood_ready.$$
        echo "[run.sh] Running the offline demo instead."
        exec "$PY" tools/demo.py
        ;;
    *)
        if [ ! -f "$1" ]; then
            echo "run.sh: config file not found: $1 (usage: bash run.sh [test | CONFIG [CHECKPOINT] [args]]; configs are under configs/)" >&2
            exit 2
        fi
        installed || install ""
        exec "$PY" tools/test.py "$@"
        ;;
esac
