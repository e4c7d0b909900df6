"""Command line of the experiment runner (``tools/run_experiment.py``).

Kept in the package so that the tools that run one fixed experiment (the
README demo, ``tools/demo.py``) share its arguments and output instead of
re-implementing them.
"""
import argparse
import os
import sys
from typing import List, Optional

from mmengine.config import DictAction


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of one experiment run (everything but the file).

    Args:
        parser (argparse.ArgumentParser): The parser to extend.
    """
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


def run(experiment_file: str, args: argparse.Namespace) -> int:
    """Run (or list) one experiment file with parsed run options.

    Args:
        experiment_file (str): The experiment file (``.py``).
        args (argparse.Namespace): Options added by
            :func:`add_run_arguments`.

    Returns:
        int: The process exit status (1 on a reported error).
    """
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    from . import ExperimentError, ExperimentRunner, load_experiment
    from .runner import ExperimentInterrupted
    try:
        experiment = load_experiment(experiment_file, args.cfg_options,
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
    except ExperimentInterrupted as err:
        print(str(err), file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # between stages
        print('interrupted; rerun the same command to continue (finished '
              'stages are reused)', file=sys.stderr)
        return 130
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


def main(argv: Optional[List[str]] = None,
         description: Optional[str] = None) -> int:
    """``tools/run_experiment.py``: parse the arguments and run.

    Args:
        argv (list[str], optional): Arguments (default: ``sys.argv``).
        description (str, optional): The parser's description.

    Returns:
        int: The process exit status.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('experiment', help='experiment file (.py)')
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    return run(args.experiment, args)
