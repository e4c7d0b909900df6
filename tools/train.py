"""Train a model from a config (mmpretrain's ``tools/train.py`` interface).

Example:
    python tools/train.py configs/clusterfit_rotnet.py
    python tools/train.py CONFIG --resume            # latest checkpoint
    bash tools/dist_train.sh CONFIG 8                # 8 GPUs
"""
import argparse
import os

from mmengine.config import DictAction

from cf_mm.apis import load_config, train


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest one in '
        'the work dir when no path is given')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision training')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not evaluate during training')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value pairs, e.g. '
        'custom_hooks.0.num_clusters=1000')
    parser.add_argument('--launcher',
                        choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main() -> None:
    args = parse_args()
    cfg = load_config(
        args.config,
        work_dir=args.work_dir,
        resume=args.resume,
        amp=args.amp,
        no_validate=args.no_validate,
        cfg_options=args.cfg_options,
        launcher=args.launcher)
    train(cfg)


if __name__ == '__main__':
    main()
