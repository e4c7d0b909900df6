"""Train the CIFAR-10 Jigsaw config briefly and measure held-out accuracy.

The check behind ``configs/jigsaw/README.md``: does the Jigsaw N_pre learn
its pretext task? It trains ``configs/jigsaw/jigsaw_resnet18-w16_1xb64-
coslr-500i_cifar10.py`` with the mmengine Runner on the CIFAR-10 train
images, then solves fresh puzzles cut from held-out test images (the
config's ``val_dataloader``; the puzzle randomness is seeded) and compares
the permutation accuracy with chance, ``1 / num_permutations``.

Example (about 5-10 minutes on 2 CPU cores)::

    python tools/jigsaw_cifar10_check.py --work-dir work_dirs/jigsaw_cifar10
"""
import argparse
import json
import os.path as osp
import time

import numpy as np
import torch
from mmengine.config import DictAction

from cf_mm.apis import load_config

CONFIG = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', 'jigsaw',
    'jigsaw_resnet18-w16_1xb64-coslr-500i_cifar10.py')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--work-dir', default='work_dirs/jigsaw_cifar10')
    parser.add_argument('--data-root', default='data/cifar10',
                        help='unpacked CIFAR-10 JPEG folders (train/, test/)')
    parser.add_argument('--iters', type=int, default=None,
                        help='override the number of training iterations')
    parser.add_argument('--num-workers', type=int, default=2)
    parser.add_argument('--checkpoint', default=None,
                        help='evaluate this checkpoint instead of training')
    parser.add_argument('--eval-seed', type=int, default=0,
                        help='seed of the held-out puzzles')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='config overrides, e.g. '
                        'model.standardize_patches=True')
    return parser.parse_args()


def main() -> dict:
    args = parse_args()
    for split in ('train', 'test'):
        if not osp.isdir(osp.join(args.data_root, split)):
            raise FileNotFoundError(
                f'{args.data_root}/{split} not found: mkdir -p '
                f'{args.data_root} && tar -xzf cifar10-jpg.tar.gz -C '
                f'{args.data_root}')
    options = {
        'train_dataloader.dataset.data_root': args.data_root,
        'val_dataloader.dataset.data_root': args.data_root,
        'train_dataloader.num_workers': args.num_workers,
        'train_dataloader.persistent_workers': args.num_workers > 0,
        'val_dataloader.num_workers': 0,  # puzzles drawn from the seed below
    }
    if args.iters:
        options.update({
            'train_cfg.max_iters': args.iters,
            'train_cfg.val_interval': args.iters,
            'default_hooks.checkpoint.interval': args.iters,
            'param_scheduler.1.end': args.iters,
            'param_scheduler.1.T_max': args.iters - 50,
        })
    options.update(args.cfg_options or {})
    cfg = load_config(args.config, work_dir=args.work_dir, cfg_options=options)

    from mmengine.runner import Runner
    train_s = None
    checkpoint = args.checkpoint
    if checkpoint is None:
        train_cfg = cfg.copy()
        # Validation runs once, below, on seeded puzzles (the train loop
        # would validate at its last iteration with unseeded ones).
        train_cfg.val_dataloader = train_cfg.val_evaluator = None
        train_cfg.val_cfg = None
        start = time.time()
        Runner.from_cfg(train_cfg).train()
        train_s = round(time.time() - start, 1)
        checkpoint = osp.join(args.work_dir,
                              f'iter_{cfg.train_cfg.max_iters}.pth')
    elif not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')

    cfg.load_from = checkpoint
    runner = Runner.from_cfg(cfg)
    np.random.seed(args.eval_seed)
    torch.manual_seed(args.eval_seed)
    start = time.time()
    metrics = runner.val()
    eval_s = time.time() - start

    num_permutations = cfg.model.head.num_classes
    result = dict(
        config=osp.basename(args.config),
        train_iters=cfg.train_cfg.max_iters,
        batch_size=cfg.train_dataloader.batch_size,
        num_permutations=num_permutations,
        checkpoint=checkpoint,
        heldout_puzzles=len(runner.val_dataloader.dataset),
        heldout_top1=float(metrics['accuracy/top1']),
        heldout_top5=float(metrics['accuracy/top5']),
        chance_top1=100.0 / num_permutations,
        chance_top5=500.0 / num_permutations,
        train_seconds=train_s,
        eval_seconds=round(eval_s, 1),
        torch_threads=torch.get_num_threads(),
        cfg_options=args.cfg_options)
    out = osp.join(args.work_dir, 'jigsaw_cifar10_check.json')
    with open(out, 'w') as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))
    print(f'held-out permutation accuracy {result["heldout_top1"]:.2f}% '
          f'(chance {result["chance_top1"]:.2f}%), written to {out}')
    return result


if __name__ == '__main__':
    main()
