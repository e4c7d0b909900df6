"""The whole ClusterFit loop on Fashion-MNIST, on a CPU, in about ten minutes.

RotNet N_pre -> res5 features -> k-means -> N_cf trained from scratch on the
cluster ids -> linear evaluation of N_pre and N_cf on frozen res5 features ->
a Table-6-style summary plus cluster statistics. Every figure printed is
measured in this run; results also go to ``<work-dir>/results.{md,json}``.

A stage whose final checkpoint exists is not run again (a crashed or
interrupted demo continues where it stopped); ``--force`` reruns everything.

Example:
    python tools/demo.py --work-dir work_dirs/demo
"""
import argparse
import json
import os
import os.path as osp
import shutil
import time
from typing import Dict, Optional

import numpy as np

from cf_mm.apis import load_config, train
from cf_mm.datasets.fashion_mnist import DEBIAN_DIR, prepare_fashion_mnist

CONFIG_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                      'configs', 'demo')
ROTNET_CFG = osp.join(CONFIG_DIR, 'rotnet_resnet18-w16_1xb64-coslr-2e_fmnist10k.py')
CLUSTERFIT_CFG = osp.join(
    CONFIG_DIR, 'clusterfit-rotnet-k50_resnet18-w16_1xb64-coslr-4e_fmnist10k.py')
LINEAR_CFG = osp.join(CONFIG_DIR, 'linear-res5_resnet18-w16_1xb128-coslr-3e_fmnist.py')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--data-root', default='data/fashion_mnist',
                        help='where the unpacked Fashion-MNIST goes')
    parser.add_argument('--data-src', default=DEBIAN_DIR,
                        help='gzipped IDX files (Debian dataset-fashion-mnist)')
    parser.add_argument('--num-train', type=int, default=10000,
                        help='train images used by every stage')
    parser.add_argument('--num-clusters', type=int, default=50)
    parser.add_argument('--rotnet-epochs', type=int, default=2)
    parser.add_argument('--cf-epochs', type=int, default=4)
    parser.add_argument('--linear-epochs', type=int, default=3)
    parser.add_argument('--num-workers', type=int, default=2)
    parser.add_argument('--force', action='store_true',
                        help='rerun stages whose checkpoints exist')
    return parser.parse_args()


def _stage(name: str, config: str, work_dir: str, epochs: int,
           options: dict, force: bool, no_validate: bool = False) -> str:
    """Train one stage unless its final checkpoint exists; return it."""
    ckpt = osp.join(work_dir, f'epoch_{epochs}.pth')
    if osp.isfile(ckpt) and not force:
        print(f'[demo] {name}: reusing {ckpt}')
        return ckpt
    if force and osp.isdir(work_dir):
        shutil.rmtree(work_dir)
    print(f'[demo] {name}: training ({epochs} epochs) -> {work_dir}')
    start = time.time()
    options = dict(options, **{'train_cfg.max_epochs': epochs,
                               'param_scheduler.T_max': epochs})
    cfg = load_config(config, work_dir=work_dir, cfg_options=options,
                      no_validate=no_validate)
    train(cfg)
    print(f'[demo] {name}: done in {time.time() - start:.0f} s')
    if not osp.isfile(ckpt):
        raise RuntimeError(f'{name}: expected checkpoint {ckpt} was not '
                           'written')
    return ckpt


def _linear_eval(name: str, checkpoint: str, work_dir: str,
                 args: argparse.Namespace, data_options: dict) -> float:
    """Linear probe on frozen res5 features; return test top-1 (%)."""
    result_file = osp.join(work_dir, 'test_metrics.json')
    if osp.isfile(result_file) and not args.force:
        with open(result_file) as f:
            saved = json.load(f)
        if saved.get('checkpoint') == osp.abspath(checkpoint):
            print(f'[demo] {name}: reusing {result_file}')
            return saved['accuracy/top1']
    options = dict(
        data_options, **{
            'model.backbone.init_cfg.checkpoint': checkpoint,
            'test_dataloader.dataset.data_prefix': args.data_root,
            'test_dataloader.num_workers': args.num_workers,
        })
    # Train without validation, then one test pass on the test split.
    _stage(name, LINEAR_CFG, work_dir, args.linear_epochs, options,
           args.force, no_validate=True)
    from mmengine.runner import Runner
    cfg = load_config(LINEAR_CFG, work_dir=work_dir, cfg_options=options)
    cfg.load_from = osp.join(work_dir, f'epoch_{args.linear_epochs}.pth')
    metrics = Runner.from_cfg(cfg).test()
    top1 = float(metrics['accuracy/top1'])
    with open(result_file, 'w') as f:
        json.dump({'checkpoint': osp.abspath(checkpoint),
                   'accuracy/top1': top1}, f)
    return top1


def _nmi(labels: np.ndarray, data_root: str, num_train: int) -> Optional[float]:
    """NMI of the cluster ids against the Fashion-MNIST classes."""
    from sklearn.metrics import normalized_mutual_info_score
    from mmpretrain.datasets import FashionMNIST
    dataset = FashionMNIST(data_prefix=data_root, download=False,
                           indices=num_train)
    return float(normalized_mutual_info_score(dataset.get_gt_labels(), labels))


def report(results: Dict, work_dir: str) -> str:
    """Format the Table-6-style summary, write it, return it."""
    stats = results['cluster_stats']
    lines = [
        '| Method | Fashion-MNIST linear top-1 (res5) |',
        '| --- | --- |',
        f"| RotNet N_pre | {results['n_pre_top1']:.2f} |",
        f"| RotNet N_cf (ClusterFit, K={results['num_clusters']}) | "
        f"{results['n_cf_top1']:.2f} |",
        '',
        f"Clusters: K={results['num_clusters']}, "
        + ', '.join(f'{k}={v:g}' for k, v in stats.items()
                    if isinstance(v, (int, float)))
        + f"; NMI(clusters, classes)={results['nmi']:.3f}",
        f"Train images: {results['num_train']}; stage seconds: "
        + ', '.join(f'{k}={v:.0f}' for k, v in results['seconds'].items()),
    ]
    text = '\n'.join(lines)
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(text + '\n')
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2)
    return text


def main() -> None:
    args = parse_args()
    os.makedirs(args.work_dir, exist_ok=True)
    prepare_fashion_mnist(args.data_src, args.data_root)
    data = {
        'train_dataloader.num_workers': args.num_workers,
        'train_dataloader.persistent_workers': args.num_workers > 0,
    }
    dataset_key = 'train_dataloader.dataset'
    seconds = {}

    start = time.time()
    rotnet_ckpt = _stage(
        'RotNet N_pre', ROTNET_CFG, osp.join(args.work_dir, 'rotnet'),
        args.rotnet_epochs,
        dict(data, **{f'{dataset_key}.data_prefix': args.data_root,
                      f'{dataset_key}.indices': args.num_train}), args.force)
    seconds['rotnet'] = time.time() - start

    start = time.time()
    cf_dir = osp.join(args.work_dir, 'clusterfit')
    cf_ckpt = _stage(
        'ClusterFit N_cf', CLUSTERFIT_CFG, cf_dir, args.cf_epochs,
        dict(data, **{
            f'{dataset_key}.dataset.data_prefix': args.data_root,
            f'{dataset_key}.dataset.indices': args.num_train,
            'custom_hooks.0.pretrained_config': ROTNET_CFG,
            'custom_hooks.0.pretrained_checkpoint': rotnet_ckpt,
            'custom_hooks.0.num_clusters': args.num_clusters,
            'custom_hooks.0.num_workers': args.num_workers,
            'model.head.num_classes': args.num_clusters,
            'model.data_preprocessor.num_classes': args.num_clusters,
        }), args.force)
    seconds['clusterfit'] = time.time() - start

    linear_data = dict(data, **{
        f'{dataset_key}.data_prefix': args.data_root,
        f'{dataset_key}.indices': args.num_train,
    })
    start = time.time()
    n_pre_top1 = _linear_eval('linear N_pre', rotnet_ckpt,
                              osp.join(args.work_dir, 'linear_n_pre'), args,
                              linear_data)
    n_cf_top1 = _linear_eval('linear N_cf', cf_ckpt,
                             osp.join(args.work_dir, 'linear_n_cf'), args,
                             linear_data)
    seconds['linear_eval'] = time.time() - start

    cluster_dir = osp.join(cf_dir, 'clusterfit', 'default')
    with open(osp.join(cluster_dir, 'summary.json')) as f:
        summary = json.load(f)
    labels = np.load(osp.join(cluster_dir, 'labels.npy'))
    results = dict(
        num_train=args.num_train,
        num_clusters=args.num_clusters,
        n_pre_top1=n_pre_top1,
        n_cf_top1=n_cf_top1,
        cluster_stats=summary['stats'],
        nmi=_nmi(labels, args.data_root, args.num_train),
        seconds=seconds)
    print('\n' + report(results, args.work_dir))


if __name__ == '__main__':
    main()
