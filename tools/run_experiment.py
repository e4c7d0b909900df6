"""Run an experiment file: its stages in order, finished ones reused.

One console line per stage (with its time and the load average); the full
logs go to ``<work dir>/<stage>/stage.log`` and the mmengine work dirs
there. An interrupted run continues where it stopped when started again;
a stage whose definition changed runs again, and so do the stages after it
that use its outputs.

Examples:
    python tools/run_experiment.py configs/experiments/demo_fmnist.py
    python tools/run_experiment.py configs/experiments/control_cifar10.py \
        --cfg-options epochs=2 --work-dir work_dirs/control_quick
    python tools/run_experiment.py EXPERIMENT --list      # stages, status
    python tools/run_experiment.py EXPERIMENT --rerun report
"""
import sys

from cf_mm.experiments.cli import main

if __name__ == '__main__':
    sys.exit(main(description=__doc__.splitlines()[0]))
