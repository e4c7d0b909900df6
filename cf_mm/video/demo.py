"""CPU demo of the video ClusterFit loop on generated clips.

N_pre (narrow R(2+1)D-18, one random weak tag per clip, softmax; with
``--multilabel`` every tag, sigmoid + BCE) -> ClusterFitHook (6 clips
per video, clip-averaged res5, k-means) -> N_cf (same architecture, from
scratch, on the cluster ids) -> linear probes on frozen clip-averaged
features (item class and motion direction, train clips -> val clips), with
a randomly initialised network as the floor. ``--capacity`` adds the
section 5.1 pair: N_cf R(2+1)D-18 from an R(2+1)D-18 vs an R(2+1)D-34 N_pre.
Every run also trains N_cf on per-label clusters of the R(2+1)D-18 N_pre's
features (section 5.2, ``ClusterFitHook(method='per_label')`` on the weak
tags); ``--per-label`` runs only that part again. ``--runner-probe`` runs
only the linear evaluation through mmaction2's Runner (the demo linear
config) of the networks of an earlier run.

Example:
    python -m cf_mm.video.demo --work-dir work_dirs/video_demo
"""
import argparse
import json
import os
import os.path as osp
import time
from typing import Dict, Optional

import numpy as np
import torch
from mmaction.registry import DATASETS
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.runner import Runner

import cf_mm.video  # noqa: F401  (registers the video components)
from cf_mm.datasets.video_synthetic import make_synthetic_videos
from cf_mm.evaluation.cached_probe import train_linear_probe
from cf_mm.datasets import DatasetView
from cf_mm.features.extract import build_extraction_model, extract_features

DEMO = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))), 'configs', 'video', 'demo')
NPRE_CFG = osp.join(DEMO,
                    'randomtag_r2plus1d-r18-w8_1xb16-coslr-4e_synthetic.py')
MULTILABEL_NPRE_CFG = osp.join(
    DEMO, 'multilabel_r2plus1d-r18-w8_1xb16-coslr-4e_synthetic.py')
NCF_CFG = osp.join(
    DEMO, 'clusterfit-k16_r2plus1d-r18-w8_1xb16-coslr-4e_synthetic.py')
PERLABEL_CFG = osp.join(
    DEMO,
    'clusterfit-perlabel-k16_r2plus1d-r18-w8_1xb16-coslr-4e_synthetic.py')


def read_labels(ann_file: str) -> np.ndarray:
    """Single labels of an annotation file (``<file> <label>`` lines)."""
    with open(ann_file) as f:
        return np.asarray([int(line.split()[1]) for line in f if line.strip()])


def train_config(config: str, work_dir: str, options: dict) -> str:
    """Train ``config`` with ``options`` and return the last checkpoint."""
    cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    cfg.merge_from_dict(options)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return osp.join(work_dir, f'epoch_{cfg.train_cfg.max_epochs}.pth')


def clip_features(config: str, checkpoint: Optional[str], data_root: str,
                  split: str) -> np.ndarray:
    """Clip-averaged res5 features (the config's extraction pipeline) of
    every clip of ``split``."""
    torch.manual_seed(0)  # the random-init floor is reproducible
    model = build_extraction_model(config, checkpoint)
    cfg = Config.fromfile(config)
    dataset = DATASETS.build(dict(
        type='VideoDataset', ann_file=f'{data_root}/{split}_class.txt',
        data_prefix=dict(video=data_root), pipeline=[], test_mode=True))
    view = DatasetView(dataset, list(cfg.extract_pipeline),
                       f'extract_pipeline of {config}')
    loader = torch.utils.data.DataLoader(
        view, batch_size=16, num_workers=1,
        collate_fn=default_collate)
    return extract_features(model, loader, ('res5', ), progress=False)['res5']


def probe(config: str, checkpoint: Optional[str], data_root: str) -> dict:
    """Linear probes (top-1 %, val clips) of item class and motion on frozen
    clip-averaged features of the train clips: ``sgd`` is cf_mm's cached
    probe (CompRess protocol, 40 epochs; it under-fits 600 clips: train
    top-1 about 30-50 %), ``logreg`` scikit-learn's logistic regression on
    standardised features, run to convergence (lbfgs, C=1)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    train = clip_features(config, checkpoint, data_root, 'train')
    val = clip_features(config, checkpoint, data_root, 'val')
    scaler = StandardScaler().fit(train)
    out = {}
    for target in ('class', 'motion'):
        y_train = read_labels(f'{data_root}/train_{target}.txt')
        y_val = read_labels(f'{data_root}/val_{target}.txt')
        res = train_linear_probe(train, y_train, val, y_val, topk=(1, ))
        out[f'{target}_sgd'] = round(res['top1'], 1)
        clf = LogisticRegression(max_iter=5000).fit(
            scaler.transform(train), y_train)
        out[f'{target}_logreg'] = round(
            100 * clf.score(scaler.transform(val), y_val), 1)
    return out


def cluster_stats(work_dir: str, data_root: str) -> dict:
    """NMI of the pseudo-labels with the item class and with the motion."""
    from sklearn.metrics import normalized_mutual_info_score as nmi
    labels = np.load(osp.join(work_dir, 'clusterfit', 'default',
                              'labels.npy'))
    sizes = np.bincount(labels)
    return dict(
        nmi_class=round(float(nmi(read_labels(
            f'{data_root}/train_class.txt'), labels)), 3),
        nmi_motion=round(float(nmi(read_labels(
            f'{data_root}/train_motion.txt'), labels)), 3),
        min_size=int(sizes.min()), max_size=int(sizes.max()))


def run_pair(work_dir: str, data_root: str, npre_cfg: str, epochs: int,
             tag: str, results: Dict[str, dict]) -> None:
    """N_pre -> ClusterFit -> N_cf (R(2+1)D-18), then probes of both."""
    data = {'train_dataloader.dataset.data_prefix': dict(video=data_root),
            'train_dataloader.dataset.ann_file':
            f'{data_root}/train_tags.txt',
            'train_cfg.max_epochs': epochs, 'param_scheduler.T_max': epochs}
    t0 = time.time()
    npre = train_config(npre_cfg, osp.join(work_dir, f'npre_{tag}'), data)
    t1 = time.time()
    ncf_dir = osp.join(work_dir, f'ncf_from_{tag}')
    ncf = train_config(NCF_CFG, ncf_dir, {
        'train_dataloader.dataset.dataset.data_prefix':
        dict(video=data_root),
        'train_dataloader.dataset.dataset.ann_file':
        f'{data_root}/train_class.txt',
        'custom_hooks.0.pretrained_config': npre_cfg,
        'custom_hooks.0.pretrained_checkpoint': npre,
        'train_cfg.max_epochs': epochs, 'param_scheduler.T_max': epochs})
    t2 = time.time()
    results[f'N_pre {tag}'] = dict(probe(npre_cfg, npre, data_root),
                                   train_s=round(t1 - t0))
    results[f'N_cf R18 from {tag}'] = dict(
        probe(NCF_CFG, ncf, data_root), train_s=round(t2 - t1),
        **cluster_stats(ncf_dir, data_root))


def run_per_label(work_dir: str, data_root: str, epochs: int,
                  results: Dict[str, dict], npre_cfg: str = NPRE_CFG) -> None:
    """Section 5.2: N_cf trained on per-label clusters of N_pre R18's
    clip-averaged features (``ClusterFitHook(method='per_label')`` on the
    weak tags: k-means inside each tag, ``k_l ~ sqrt(n_l)``, K=16 in
    total)."""
    npre = osp.join(work_dir, 'npre_R18', f'epoch_{epochs}.pth')
    if not osp.isfile(npre):
        raise FileNotFoundError(f'{npre} missing: run the demo without '
                                '--per-label first')
    ncf_dir = osp.join(work_dir, 'ncf_per_label_from_R18')
    t0 = time.time()
    ncf = train_config(PERLABEL_CFG, ncf_dir, {
        'train_dataloader.dataset.dataset.data_prefix':
        dict(video=data_root),
        'train_dataloader.dataset.dataset.ann_file':
        f'{data_root}/train_tags.txt',
        'custom_hooks.0.pretrained_config': npre_cfg,
        'custom_hooks.0.pretrained_checkpoint': npre,
        'train_cfg.max_epochs': epochs, 'param_scheduler.T_max': epochs})
    results['N_cf R18 per-label from R18'] = dict(
        probe(NCF_CFG, ncf, data_root), train_s=round(time.time() - t0),
        **cluster_stats(ncf_dir, data_root))


LINEAR_CFG = osp.join(
    DEMO, 'linear-res5_r2plus1d-r18-w8_1xb16-steplr-12e_synthetic.py')
# network name in results.json -> (checkpoint folder, backbone depth)
NETWORKS = {
    'random init': (None, 18),
    'N_pre R18': ('npre_R18', 18),
    'N_cf R18 from R18': ('ncf_from_R18', 18),
    'N_cf R18 per-label from R18': ('ncf_per_label_from_R18', 18),
    'N_pre R34': ('npre_R34', 34),
    'N_cf R18 from R34': ('ncf_from_R34', 18),
}


def runner_probe(work_dir: str, data_root: str, epochs: int,
                 results: Dict[str, dict]) -> None:
    """Linear evaluation through mmaction2's Runner (the demo linear config:
    frozen backbone, linear head trained on one random 8-frame clip per
    video, tested with the scores of 6 uniform clips averaged) of every
    network of an earlier run, for the item class and the motion."""
    for name, (folder, depth) in NETWORKS.items():
        ckpt = None if folder is None else osp.join(
            work_dir, folder, f'epoch_{epochs}.pth')
        if ckpt is not None and not osp.isfile(ckpt):
            print(f'skipping {name}: {ckpt} missing')
            continue
        row = {}
        for target, num_classes in (('class', 10), ('motion', 4)):
            t0 = time.time()
            cfg = Config.fromfile(LINEAR_CFG)
            cfg.work_dir = osp.join(work_dir, 'runner_probe',
                                    f'{folder or "random"}_{target}')
            cfg.merge_from_dict({
                'model.backbone_checkpoint': ckpt,
                'model.backbone.depth': depth,
                'model.cls_head.num_classes': num_classes,
                'train_dataloader.dataset.data_prefix': dict(video=data_root),
                'train_dataloader.dataset.ann_file':
                f'{data_root}/train_{target}.txt',
                'test_dataloader.dataset.data_prefix': dict(video=data_root),
                'test_dataloader.dataset.ann_file':
                f'{data_root}/val_{target}.txt'})
            runner = Runner.from_cfg(cfg)
            runner.train()
            metrics = runner.test()
            row[f'{target}_runner'] = round(100 * metrics['acc/top1'], 1)
            row[f'{target}_runner_s'] = round(time.time() - t0)
        results[name] = row
        print(name, row, flush=True)


def save_results(results: Dict[str, dict], work_dir: str, name: str,
                 start: float) -> None:
    """Add the wall time since ``start``, write ``work_dir/name``, print."""
    results['wall_s'] = round(time.time() - start)
    with open(osp.join(work_dir, name), 'w') as f:
        json.dump(results, f, indent=1)
    print(json.dumps(results, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/video_demo')
    parser.add_argument('--data-root', default='data/synthetic_videos')
    parser.add_argument('--fmnist', default='data/fashion_mnist')
    parser.add_argument('--epochs', type=int, default=4)
    parser.add_argument('--multilabel', action='store_true',
                        help='N_pre variant: every weak tag a positive '
                        '(sigmoid + BCE) instead of one random tag per clip '
                        '(softmax, appendix C, the default)')
    parser.add_argument('--capacity', action='store_true',
                        help='also run N_pre R(2+1)D-34 -> N_cf R(2+1)D-18')
    parser.add_argument('--per-label', action='store_true',
                        help='only the per-label clustering run (section '
                        '5.2), from the N_pre R18 of an earlier run')
    parser.add_argument('--runner-probe', action='store_true',
                        help='only the linear evaluation through the Runner '
                        '(configs/video/demo/linear-*) of the networks of an '
                        'earlier run')
    args = parser.parse_args()
    start = time.time()
    if args.runner_probe:
        results = {}
        runner_probe(args.work_dir, args.data_root, args.epochs, results)
        save_results(results, args.work_dir, 'results_runner_probe.json',
                     start)
        return
    if not osp.isfile(osp.join(args.data_root, 'val_class.txt')):
        make_synthetic_videos(args.fmnist, args.data_root)
    os.makedirs(args.work_dir, exist_ok=True)
    results: Dict[str, dict] = {}
    npre_cfg = MULTILABEL_NPRE_CFG if args.multilabel else NPRE_CFG
    if args.per_label:
        run_per_label(args.work_dir, args.data_root, args.epochs, results,
                      npre_cfg)
        save_results(results, args.work_dir, 'results_per_label.json', start)
        return
    results['random init'] = probe(npre_cfg, None, args.data_root)
    run_pair(args.work_dir, args.data_root, npre_cfg, args.epochs, 'R18',
             results)
    run_per_label(args.work_dir, args.data_root, args.epochs, results,
                  npre_cfg)
    if args.capacity:
        run_pair(args.work_dir, args.data_root,
                 npre_cfg.replace('r18-w8', 'r34-w8'), args.epochs, 'R34',
                 results)
    save_results(results, args.work_dir, 'results.json', start)


if __name__ == '__main__':
    main()
