# Sourced by the launch scripts: the interpreter to run, ${PYTHON} if set,
# else this checkout's .venv (tools/setup.sh makes it), else `python`; and
# the checkout on PYTHONPATH, as mmpretrain's scripts do.
CF_MM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$CF_MM_ROOT/.venv/bin/python" ]; then
        PYTHON="$CF_MM_ROOT/.venv/bin/python"
    else
        PYTHON=python
    fi
fi
export PYTHONPATH="$CF_MM_ROOT${PYTHONPATH:+:$PYTHONPATH}"
