#!/usr/bin/env bash
# Create/refresh the virtual environment and install mmsquad into it.
#   tools/misc/install.sh [--venv DIR] [--wheelhouse DIR]
# Idempotent: when nothing changed since the last run it only re-verifies.
# Environment: PYTHON (python3) creates the venv; TORCH_VERSION (2.13.0) is
# installed only when the environment has no torch yet.
set -euo pipefail

VENV=.venv
WHEELHOUSE=""
while [ $# -gt 0 ]; do
    case "$1" in
        --venv) VENV=$2; shift 2 ;;
        --wheelhouse) WHEELHOUSE=$2; shift 2 ;;
        *) echo "install.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
fail() { echo "install.sh: ERROR: $*" >&2; exit 1; }

FIND_LINKS=()
if [ -n "$WHEELHOUSE" ]; then
    [ -d "$WHEELHOUSE" ] || fail "wheelhouse directory '$WHEELHOUSE' does not exist"
    WHEELHOUSE=$(cd "$WHEELHOUSE" && pwd)
    FIND_LINKS=(--find-links "$WHEELHOUSE")
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo ">> creating virtual environment $VENV"
    "${PYTHON:-python3}" -m venv "$VENV" || fail "could not create $VENV"
fi
PY="$ROOT/$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

verify() {
    "$PY" - <<'PYEOF'
import sys
problems = []
try:
    import mmcv
    if mmcv.__version__ != '2.1.0':
        problems.append(f'mmcv is {mmcv.__version__}, mmsquad needs 2.1.0')
    import mmcv.ops  # noqa: F401
    from mmcv.ops import nms  # noqa: F401
except Exception as exc:  # noqa: BLE001
    problems.append(f'mmcv.ops does not import ({exc!r}): mmcv was built '
                    'without its compiled ops')
for module in ("mmdet.models", "mmseg.models", "mmsquad", "pkg_resources",
               "onnxruntime", "onnxscript", "sklearn.mixture",
               "torch.utils.tensorboard"):
    try:
        __import__(module)
    except Exception as exc:  # noqa: BLE001
        problems.append(f'{module} does not import: {exc!r}')
if problems:
    print('\n'.join(problems), file=sys.stderr)
    sys.exit(1)
PYEOF
}

STAMP="$VENV/.mmsquad-install"
fingerprint=$(cat setup.py requirements/*.txt tools/misc/install.sh | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$fingerprint" ] && verify 2>/dev/null; then
    echo ">> $VENV is up to date"
    exit 0
fi
rm -f "$STAMP"

# Every pip call below honours these pins: setuptools<81 (mmcv's build and
# mmengine's `mmdet::` config lookup import pkg_resources) and, once known,
# the installed torch, so that no dependency can pull another one.
CONSTRAINTS="$VENV/constraints.txt"
echo "setuptools<81" > "$CONSTRAINTS"

echo ">> build tools"
"${PIP[@]}" install -q "${FIND_LINKS[@]}" -c "$CONSTRAINTS" setuptools wheel ninja

if "$PY" -c "import torch" 2>/dev/null; then
    echo ">> keeping the installed torch $("$PY" -c 'import torch; print(torch.__version__)')"
else
    echo ">> installing torch==${TORCH_VERSION:-2.13.0}"
    "${PIP[@]}" install "${FIND_LINKS[@]}" -c "$CONSTRAINTS" "torch==${TORCH_VERSION:-2.13.0}"
fi
"$PY" -c "import torch; print('torch==' + torch.__version__)" >> "$CONSTRAINTS"

if "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
    echo ">> mmcv 2.1.0 with ops already installed"
else
    if [ -n "$WHEELHOUSE" ]; then
        echo ">> installing mmcv 2.1.0 (wheelhouse $WHEELHOUSE first, source build otherwise)"
    else
        echo ">> building mmcv 2.1.0 with its ops from source (about 25 minutes on 2 cores)"
    fi
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} "${PIP[@]}" install \
        --no-build-isolation "${FIND_LINKS[@]}" -c "$CONSTRAINTS" mmcv==2.1.0
fi

echo ">> installing the other dependencies and mmsquad (editable)"
"${PIP[@]}" install -q "${FIND_LINKS[@]}" -c "$CONSTRAINTS" \
    -r requirements/runtime.txt -r requirements/deploy.txt \
    -r requirements/tests.txt
"${PIP[@]}" install -q --no-build-isolation --no-deps -e .

echo ">> verifying"
verify || fail "the environment in $VENV is incomplete (see above)"
echo "$fingerprint" > "$STAMP"
echo ">> done: $VENV"
