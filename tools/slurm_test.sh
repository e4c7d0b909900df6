#!/usr/bin/env bash
# Testing under Slurm:
#   bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py args]
# GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS as in mmpretrain.
# Interpreter: $PYTHON, else the checkout's .venv, else `python`.
set -x
source "$(dirname "$0")/launch.sh"
slurm_launch "$1" "$2" test.py "$3" "$4" --launcher=slurm "${@:5}"
