#!/usr/bin/env bash
# Distributed training: bash tools/dist_train.sh CONFIG GPUS [tools/train.py args]
# Several nodes: NNODES, NODE_RANK, MASTER_ADDR (and PORT) on every node.
# Interpreter: $PYTHON, else the checkout's .venv, else `python`.
source "$(dirname "$0")/launch.sh"
dist_launch "$2" train.py "$1" --launcher pytorch "${@:3}"
