"""Evaluate a checkpoint on the test split of a config (mmpretrain interface).

Example:
    python tools/test.py configs/benchmarks/linear-res5_resnet50_8xb32-steplr-28e_in1k.py \
        work_dirs/linear/epoch_28.pth
"""
import argparse
import json
import os

from mmengine.config import DictAction

from cf_mm.apis import load_config, test


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a checkpoint')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs')
    parser.add_argument('--out', help='write the metrics to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs')
    parser.add_argument('--launcher',
                        choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, work_dir=args.work_dir,
                      cfg_options=args.cfg_options, launcher=args.launcher)
    metrics = test(cfg, args.checkpoint)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(metrics, f, indent=2)


if __name__ == '__main__':
    main()
