"""Extract pooled, L2-normalised features of a model over a dataset to disk.

The offline path of ClusterFit for datasets too large for the hook: run this
(on as many GPUs as you like), then ``tools/cluster.py`` on the result. Each
rank writes its own shard of a feature store per layer under ``--out-dir``.

The data default to the train dataloader's dataset of the model config,
under a deterministic pipeline: the config's test/val pipeline, its
``test_pipeline``, or its train pipeline without random augmentation (see
:func:`cf_mm.features.extract.extraction_pipeline`). ``--data-config`` takes
the data (and that pipeline) from another config.

The extraction owns ``--out-dir``: what an earlier extraction left there
(every layer's store, ``meta.json``) is removed first, so no old layer
outlives its extraction; a folder holding anything else is refused before
anything is touched. ``meta.json`` (written last) records the identity of
what was extracted: the dataset's fingerprint (``--fingerprint``), the
checkpoint's SHA-256 and the resolved model config's; ``tools/cluster.py``
carries it into the label folder and ``PseudoLabelDataset`` checks it
against the dataset it wraps.

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
import hashlib
import json
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.dist import get_dist_info, is_main_process
from mmengine.registry import init_default_scope
from mmengine.runner import set_random_seed

from cf_mm.apis import init_distributed
from cf_mm.evaluation.inputs import parse_checkpoint
from cf_mm.features.extract import (build_extraction_dataset,
                                    build_extraction_model, check_model_input,
                                    extract_to_store, list_layers,
                                    resolved_model_config)
from cf_mm.features.store import clear_out_dir
from cf_mm.utils.atomic import atomic_save_json
from cf_mm.utils.cli import int_at_least, positive_int, run_main
from cf_mm.utils.fingerprint import (FINGERPRINT_MODES, dataset_fingerprint,
                                     file_sha256, jsonable)
from cf_mm.utils.checkpoint import resolve_checkpoint
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
    parser.add_argument('--num-workers', type=int_at_least(0), default=4)
    parser.add_argument('--fingerprint', default='stat',
                        choices=FINGERPRINT_MODES,
                        help='dataset identity recorded in meta.json: stat '
                        '(path, size, mtime of every file) or content '
                        '(SHA-256 of every byte; catches a file swapped '
                        'keeping size and mtime)')
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


def source_identity(args, dataset, checkpoint) -> dict:
    """What the features were made from, for the label folder (no
    checkpoint: the initial weights of ``--seed``)."""
    model = json.dumps(jsonable(resolved_model_config(args.config)),
                       sort_keys=True)
    return dict(
        dataset_type=type(dataset.dataset).__name__,
        num_samples=len(dataset),
        dataset_sha256=dataset_fingerprint(dataset.dataset,
                                           args.fingerprint),
        fingerprint_mode=args.fingerprint,
        checkpoint_sha256=(file_sha256(checkpoint) if checkpoint else
                           f'initial weights, seed {args.seed}'),
        model_sha256=hashlib.sha256(model.encode()).hexdigest(),
        pipeline=dataset.source)


def main() -> None:
    args = parse_args()
    # mmengine's init_dist, gloo without a GPU (as tools/train.py)
    init_distributed(args.launcher)
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
    else:  # a run's last_checkpoint stands for the checkpoint it names
        checkpoint = resolve_checkpoint(checkpoint)
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
    lock, identity = None, None
    meta_file = osp.join(args.out_dir, 'meta.json')
    if is_main_process():
        # One extraction per out dir at a time; it owns the folder (an old
        # layer would outlive its extraction), and its meta.json describes
        # a finished extraction only (removed now, written last).
        lock = DirLock(args.out_dir, 'tools/extract_features.py output')
        lock.acquire()
        clear_out_dir(args.out_dir, keep=(osp.basename(lock.path), ),
                      what='--out-dir')
        identity = source_identity(args, dataset, checkpoint)
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
            l2_normalize=not args.no_l2_normalize,
            source=identity)
        atomic_save_json(meta_file, meta)
        for name, store in stores.items():
            print(f'{name}: {store.num_samples} x {store.dim} -> '
                  f'{osp.join(args.out_dir, name)}')
        lock.release()


if __name__ == '__main__':
    run_main(main)
