"""Extract pooled, L2-normalised features of a model over a dataset to disk.

The offline path of ClusterFit for datasets too large for the hook: run this
(on as many GPUs as you like), then ``tools/cluster.py`` on the result. Each
rank writes its own shard of a feature store per layer under ``--out-dir``.

The data default to the train dataloader's dataset of the model config,
under a deterministic pipeline: the config's test/val pipeline, its
``test_pipeline``, or its train pipeline without random augmentation (see
:func:`cf_mm.features.extract.extraction_pipeline`). ``--data-config`` takes
the data (and that pipeline) from another config.

Examples:
    python tools/extract_features.py configs/rotnet/rotnet_resnet50_8xb32-steplr-105e_in1k.py \
        work_dirs/rotnet/epoch_105.pth --layers res4,res5 --out-dir work_dirs/features
    python -m torch.distributed.run --nproc_per_node 8 tools/extract_features.py \
        CONFIG CKPT --out-dir work_dirs/features --launcher pytorch
    # random-init floor: the config's initial weights, drawn with --seed
    python tools/extract_features.py CONFIG none --out-dir work_dirs/random

Video configs (mmaction2 recognizers) work the same way: their rows are
clip-averaged, L2-normalised features of the clips the pipeline samples.
"""
import argparse
import json
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.dist import get_dist_info, init_dist, is_main_process
from mmengine.registry import init_default_scope
from mmengine.runner import set_random_seed

from cf_mm.evaluation.inputs import parse_checkpoint
from cf_mm.features.extract import (build_extraction_dataset,
                                    build_extraction_model, check_model_input,
                                    extract_to_store, list_layers)
from cf_mm.utils.cli import positive_int, run_main
from cf_mm.utils.lock import DirLock


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Extract features to disk')
    parser.add_argument('config', help='model config (its `model` field)')
    parser.add_argument('checkpoint',
                        help='model checkpoint, or `none` for the initial '
                        'weights (drawn with --seed): the random-init floor')
    parser.add_argument('--out-dir', required=True,
                        help='root of the feature stores (one per layer)')
    parser.add_argument('--layers', default='res5',
                        help='comma-separated layers: conv1,res2,...,res5 or '
                        'backbone module names (default: res5)')
    parser.add_argument('--data-config',
                        help='config whose dataloaders give the data '
                        '(default: the model config)')
    parser.add_argument('--split', default='train',
                        choices=['train', 'val', 'test'],
                        help='which `<split>_dataloader.dataset` to extract')
    parser.add_argument('--dtype', default='float32',
                        choices=['float32', 'float16'])
    parser.add_argument('--batch-size', type=positive_int, default=64)
    parser.add_argument('--num-workers', type=int, default=4)
    parser.add_argument('--no-l2-normalize', action='store_true')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the initial weights with checkpoint '
                        '`none`')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides for the data config')
    parser.add_argument('--launcher',
                        choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main() -> None:
    args = parse_args()
    if args.launcher != 'none':
        init_dist(args.launcher)
    data_cfg = Config.fromfile(args.data_config or args.config)
    if args.cfg_options:
        data_cfg.merge_from_dict(args.cfg_options)
    init_default_scope(data_cfg.get('default_scope', 'mmpretrain'))
    rank, _ = get_dist_info()
    device = (f'cuda:{torch.cuda.current_device()}'
              if torch.cuda.is_available() else 'cpu')
    checkpoint = parse_checkpoint(args.checkpoint)
    if checkpoint is None:
        set_random_seed(args.seed)
    model = build_extraction_model(args.config, checkpoint, device)
    if checkpoint is None:
        # The weights a training run of this config starts from.
        model.init_weights()
        model.eval()
    dataset = build_extraction_dataset(data_cfg, args.split)
    check_model_input(model, dataset, pipeline=dataset.source,
                      setting='a test_pipeline in the data config '
                      '(--data-config)')
    layers = list_layers(args.layers)
    lock = None
    if is_main_process():
        # One extraction per out dir at a time; its meta.json describes a
        # finished extraction only (removed now, written last).
        lock = DirLock(args.out_dir, 'tools/extract_features.py output')
        lock.acquire()
        meta_file = osp.join(args.out_dir, 'meta.json')
        if osp.exists(meta_file):
            os.remove(meta_file)
    stores = extract_to_store(
        model, dataset, args.out_dir, layers=layers,
        batch_size=args.batch_size, num_workers=args.num_workers,
        dtype=args.dtype, l2_normalize=not args.no_l2_normalize)
    if is_main_process():
        meta = dict(
            config=osp.abspath(args.config),
            checkpoint=checkpoint and osp.abspath(checkpoint),
            seed=args.seed if checkpoint is None else None,
            split=args.split,
            layers={k: dict(num_samples=s.num_samples, dim=s.dim)
                    for k, s in stores.items()},
            l2_normalize=not args.no_l2_normalize)
        tmp = meta_file + f'.tmp-{os.getpid()}'
        with open(tmp, 'w') as f:
            json.dump(meta, f, indent=2)
        os.replace(tmp, meta_file)
        for name, store in stores.items():
            print(f'{name}: {store.num_samples} x {store.dim} -> '
                  f'{osp.join(args.out_dir, name)}')
        lock.release()


if __name__ == '__main__':
    run_main(main)
