"""The README's main command: the whole ClusterFit loop on Fashion-MNIST.

Runs ``configs/experiments/demo_fmnist.py`` with the experiment runner
(``tools/run_experiment.py``): RotNet N_pre and "N_pre 2x" -> res5 features
-> k-means -> N_cf trained from scratch on the cluster ids for as many
epochs as N_pre -> linear probes and kNN on frozen, cached features of each
network -> a Table-6-style report with cluster statistics. The console gets
one line per stage and the report at the end; logs go to each stage's
``stage.log``. Finished stages are reused, so an interrupted demo continues
where it stopped (``--force`` reruns everything).

Examples:
    python tools/demo.py
    python tools/demo.py --work-dir work_dirs/demo_quick \
        --cfg-options epochs=1 epochs_2x=2 num_train=2000
"""
import argparse
import os.path as osp
import sys

from cf_mm.experiments.cli import add_run_arguments, run

EXPERIMENT = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                      'configs', 'experiments', 'demo_fmnist.py')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser)
    parser.set_defaults(work_dir='work_dirs/demo', print_report=True)
    return run(EXPERIMENT, parser.parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
