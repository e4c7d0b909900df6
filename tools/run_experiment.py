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
import argparse
import os
import sys

from mmengine.config import DictAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('experiment', help='experiment file (.py)')
    parser.add_argument('--work-dir',
                        help='root of the stage work dirs (default: the '
                        "file's work_dir)")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        default={},
                        help='override settings of the experiment file, '
                        'e.g. epochs=1 noise_levels="[0,50]"')
    parser.add_argument('--force', action='store_true',
                        help='run every stage again')
    parser.add_argument('--rerun', default='',
                        help='comma-separated stages to run again (and the '
                        'stages that use them)')
    parser.add_argument('--list', action='store_true',
                        help='list the stages and whether they are done; '
                        'run nothing')
    parser.add_argument('--threads', type=int,
                        help='torch intra-op threads (on a machine shared '
                        'with other jobs, 1 can be several times faster '
                        'than oversubscribed cores)')
    parser.add_argument('--print-report', action='store_true',
                        help='print the Markdown of the report stages at '
                        'the end')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    from cf_mm.experiments import (ExperimentError, ExperimentRunner,
                                   load_experiment)
    try:
        experiment = load_experiment(args.experiment, args.cfg_options,
                                     args.work_dir)
        runner = ExperimentRunner(
            experiment, force=args.force,
            rerun=[s for s in args.rerun.split(',') if s])
        if args.list:
            for stage, status in zip(experiment.stages,
                                     runner.stage_status()):
                print(f'{status:8s} {stage.name} ({stage.type})')
            return 0
        outputs = runner.run()
    except (ExperimentError, ValueError, FileNotFoundError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    for stage in experiment.stages:
        if stage.type == 'report':
            markdown = outputs[stage.name]['markdown']
            print(f'report: {os.path.relpath(markdown)}')
            if args.print_report:
                with open(markdown) as f:
                    print(f.read())
    return 0


if __name__ == '__main__':
    sys.exit(main())
