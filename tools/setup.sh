#!/usr/bin/env bash
# One-time set-up on a fresh machine (idempotent): the Fashion-MNIST Debian
# package for the demo and tests, a virtualenv in .venv with cf_mm installed
# (torch/torchvision from PyPI, mmengine, mmpretrain, mmcv-lite, faiss-cpu) and
# the `video` extra (mmaction2 1.1.0 + decord), so that tests/video run in CI
# instead of being skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d /usr/share/datasets/fashion-mnist ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq dataset-fashion-mnist
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade "pip<25"
.venv/bin/python -m pip install -q -e ".[tests,video]"
.venv/bin/python tools/prepare_fashion_mnist.py --out data/fashion_mnist
