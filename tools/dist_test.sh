#!/usr/bin/env bash
# Distributed testing: bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [tools/test.py args]
# Several nodes: NNODES, NODE_RANK, MASTER_ADDR (and PORT) on every node.
# Interpreter: $PYTHON, else the checkout's .venv, else `python`.
source "$(dirname "$0")/launch.sh"
dist_launch "$3" test.py "$1" "$2" --launcher pytorch "${@:4}"
