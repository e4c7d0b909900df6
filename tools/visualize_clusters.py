"""Look at ClusterFit clusters: random images of random clusters + sizes.

Reads a label file (``labels.npy`` of ``tools/cluster.py``, of the
``ClusterFitHook`` work dir or of an experiment's ``cluster`` stage; row i =
sample i of the clustered dataset) and the config whose ``<split>_dataloader``
dataset was clustered, and writes two PNGs:

* ``<out>_grid.png``: one row per randomly chosen non-empty cluster (its id
  and size on the left), ``--images`` random images of it;
* ``<out>_sizes.png``: histogram of the cluster sizes (empty clusters
  counted), with min / median / max.

Examples:
    python tools/visualize_clusters.py work_dirs/cluster/res5-k160 \\
        configs/reproduction/linear-multilayer_resnet18-w16_1xb256-steplr-8e_cifar10-10k.py \\
        --out work_dirs/cluster/res5-k160/clusters
    python tools/visualize_clusters.py LABELS.npy CONFIG --split train \\
        --clusters 6 --images 10 --cfg-options train_dataloader.dataset.ann_file=...
"""
import argparse
import os
import os.path as osp
from typing import List, Sequence

import numpy as np

from cf_mm.clustering import load_labels
from cf_mm.utils.cli import int_at_least, positive_int, run_main


def parse_args(argv=None) -> argparse.Namespace:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='grid of random images of random clusters and the '
        'cluster-size histogram of a label file')
    parser.add_argument('labels', help='labels.npy or the folder holding it')
    parser.add_argument('config', help='config whose <split>_dataloader '
                        'dataset was clustered')
    parser.add_argument('--split', default='train',
                        help='which dataloader (default: train)')
    parser.add_argument('--clusters', type=positive_int, default=8,
                        help='random clusters shown (rows)')
    parser.add_argument('--images', type=positive_int, default=8,
                        help='random images per cluster (columns)')
    parser.add_argument('--seed', type=int_at_least(0), default=0)
    parser.add_argument('--bins', type=positive_int, default=30,
                        help='histogram bins')
    parser.add_argument('--dpi', type=positive_int, default=90,
                        help='resolution of the PNGs')
    parser.add_argument('--out', help='output prefix (default: '
                        '<label folder>/clusters)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings (e.g. ann_file)')
    return parser.parse_args(argv)


def choose_samples(labels: np.ndarray, num_clusters: int, per_cluster: int,
                   seed: int = 0) -> List[tuple]:
    """``[(cluster id, size, sample indices), ...]``: random non-empty
    clusters (at most ``num_clusters``), up to ``per_cluster`` random
    members each, all drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    ids, sizes = np.unique(labels, return_counts=True)
    pick = rng.choice(len(ids), size=min(num_clusters, len(ids)),
                      replace=False)
    rows = []
    for i in sorted(pick, key=lambda j: -sizes[j]):
        members = np.flatnonzero(labels == ids[i])
        chosen = rng.choice(members, size=min(per_cluster, len(members)),
                            replace=False)
        rows.append((int(ids[i]), int(sizes[i]), chosen.tolist()))
    return rows


def load_image(dataset, idx: int) -> np.ndarray:
    """Sample ``idx`` as an RGB ``uint8`` array (H, W, 3) or grey (H, W)."""
    info = dataset.get_data_info(idx)
    img = info.get('img')
    if img is None:
        path = info.get('img_path')
        if path is None:
            raise ValueError(f'{type(dataset).__name__}: sample {idx} has '
                             'neither `img` nor `img_path`')
        import mmcv
        img = mmcv.imread(path, channel_order='rgb')
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    return img


def plot_grid(rows: Sequence[tuple], dataset, out_file: str,
              title: str = '', dpi: int = 90) -> str:
    """One row per cluster, its chosen images in the columns."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    ncols = max(len(r[2]) for r in rows)
    fig, axes = plt.subplots(len(rows), ncols,
                             figsize=(1.1 * ncols + 0.9, 1.1 * len(rows)),
                             squeeze=False)
    for (cid, size, members), ax_row in zip(rows, axes):
        for col, ax in enumerate(ax_row):
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if col < len(members):
                img = load_image(dataset, members[col])
                ax.imshow(img, cmap='gray' if img.ndim == 2 else None)
        ax_row[0].set_ylabel(f'#{cid}\nn={size}', rotation=0, ha='right',
                             va='center', fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out_file, dpi=dpi)
    plt.close(fig)
    return out_file


def plot_sizes(labels: np.ndarray, num_clusters: int, out_file: str,
               bins: int = 30, title: str = '', dpi: int = 90) -> str:
    """Histogram of cluster sizes (clusters with no member count as 0)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    sizes = np.bincount(labels, minlength=num_clusters)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.hist(sizes, bins=bins, color='tab:blue')
    ax.set_xlabel('cluster size (images)')
    ax.set_ylabel('clusters')
    ax.set_title(title or f'K={num_clusters}: min {sizes.min()}, median '
                 f'{int(np.median(sizes))}, max {sizes.max()}, '
                 f'{int((sizes == 0).sum())} empty', fontsize=9)
    fig.tight_layout()
    fig.savefig(out_file, dpi=dpi)
    plt.close(fig)
    return out_file


def num_clusters_of(label_path: str, labels: np.ndarray) -> int:
    """K from the folder's ``summary.json`` if any, else ``max + 1``."""
    import json
    folder = label_path if osp.isdir(label_path) else osp.dirname(label_path)
    summary = osp.join(folder, 'summary.json')
    if osp.isfile(summary):
        with open(summary) as f:
            data = json.load(f)
        k = data.get('num_clusters', data.get('K'))
        if k:
            return int(k)
    return int(labels.max()) + 1


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import cf_mm  # noqa: F401  (registers datasets)
    from cf_mm.features.extract import build_extraction_dataset

    labels = load_labels(args.labels)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    dataset = build_extraction_dataset(cfg, args.split).dataset
    if len(dataset) != len(labels):
        raise ValueError(
            f'{args.labels} has {len(labels)} labels but the {args.split} '
            f'dataset of {args.config} has {len(dataset)} samples; give the '
            'config (and --cfg-options) of the clustered dataset')
    folder = args.labels if osp.isdir(args.labels) else \
        osp.dirname(args.labels)
    out = args.out or osp.join(folder, 'clusters')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    k = num_clusters_of(args.labels, labels)
    rows = choose_samples(labels, args.clusters, args.images, args.seed)
    grid = plot_grid(rows, dataset, f'{out}_grid.png',
                     title=f'{len(rows)} random of K={k} clusters, '
                     f'{args.images} random images each', dpi=args.dpi)
    sizes = plot_sizes(labels, k, f'{out}_sizes.png', args.bins,
                       dpi=args.dpi)
    print(grid)
    print(sizes)
    return 0


if __name__ == '__main__':
    run_main(main)
