"""Small-scale ClusterFit reproduction on CIFAR-10, in one command.

RotNet N_pre and ClusterFit N_cf (same architecture, same epochs) trained on
a CIFAR-10 train subset (labels unused), then judged on two targets:
CIFAR-10 itself (multi-layer linear probe, kNN on res4/res5) and a transfer
target different from the clustering data, Fashion-MNIST as 3-channel 32x32
images (multi-layer linear probe, kNN). Also reported: cluster statistics and
the NMI of the clusters with the CIFAR-10 classes, a randomly initialised
network as kNN floor, and the wall time of every stage. See
``docs/reproduction.md`` for the design and the measured numbers.

Outputs go to ``--work-dir`` (``results.md``, ``results.json``,
``report/``: Table 6 style ``table.md``, Figure 4 style ``layers_*.png``);
the layer plots are also copied to ``--figures-dir``. A stage whose output
exists is skipped, so an interrupted run continues where it stopped;
``--force`` reruns everything.

Example:
    python tools/reproduce_small.py --work-dir work_dirs/reproduce_small
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import platform
import shutil
import sys
import tarfile
import time
from typing import Dict, List, Optional

import numpy as np

from cf_mm.apis import load_config, train
from cf_mm.datasets.fashion_mnist import DEBIAN_DIR, prepare_fashion_mnist

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = osp.join(ROOT, 'configs', 'reproduction')
ROTNET_CFG = osp.join(CONFIG_DIR,
                      'rotnet_resnet18-w16_1xb64-coslr-4e_cifar10-10k.py')
CLUSTERFIT_CFG = osp.join(
    CONFIG_DIR,
    'clusterfit-rotnet-k160_resnet18-w16_1xb64-coslr-4e_cifar10-10k.py')
PROBE_CFGS = {
    'cifar10': osp.join(
        CONFIG_DIR,
        'linear-multilayer_resnet18-w16_1xb256-steplr-8e_cifar10-10k.py'),
    'fmnist': osp.join(
        CONFIG_DIR,
        'linear-multilayer_resnet18-w16_1xb256-steplr-8e_fmnist10k-rgb32.py'),
}
CIFAR_TRAIN_SIZE, CIFAR_TEST_SIZE = 50000, 10000
METHODS = ('RotNet N_pre', 'RotNet N_cf')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/reproduce_small')
    parser.add_argument('--figures-dir', default='docs/figures',
                        help='where the layer-wise PNG plots are copied')
    parser.add_argument('--cifar-root', default='data/cifar10')
    parser.add_argument('--cifar-tar',
                        default=osp.join(osp.dirname(ROOT), 'shared', 'datasets',
                                         'cifar10-jpg.tar.gz'),
                        help='unpacked into --cifar-root if that is empty')
    parser.add_argument('--fmnist-root', default='data/fashion_mnist')
    parser.add_argument('--fmnist-src', default=DEBIAN_DIR)
    parser.add_argument('--num-train', type=int, default=10000,
                        help='CIFAR-10 train images (N_pre, N_cf, probes)')
    parser.add_argument('--num-test', type=int, default=2000,
                        help='CIFAR-10 test images')
    parser.add_argument('--num-fmnist-train', type=int, default=10000)
    parser.add_argument('--num-fmnist-test', type=int, default=2000)
    parser.add_argument('--epochs', type=int, default=4,
                        help='epochs of N_pre and of N_cf (the same)')
    parser.add_argument('--num-clusters', type=int, default=160)
    parser.add_argument('--probe-epochs', type=int, default=8,
                        help='linear probe epochs (lr x0.1 at 1/2 and 3/4)')
    parser.add_argument('--knn-layers', default='res4,res5')
    parser.add_argument('--knn-k', type=int, default=200)
    parser.add_argument('--batch-size', type=int, default=64,
                        help='batch of N_pre / N_cf training')
    parser.add_argument('--num-workers', type=int, default=2)
    parser.add_argument('--force', action='store_true',
                        help='rerun stages whose outputs exist')
    return parser.parse_args(argv)


def log(message: str) -> None:
    print(f'[reproduce] {time.strftime("%H:%M:%S")} {message}', flush=True)


# ---------------------------------------------------------------- data ---
def prepare_cifar10(root: str, tar_path: str) -> None:
    """Unpack the CIFAR-10 JPEG tar into ``root`` unless already there."""
    if osp.isdir(osp.join(root, 'train')) and osp.isdir(
            osp.join(root, 'test')):
        return
    if not osp.isfile(tar_path):
        raise FileNotFoundError(
            f'CIFAR-10 not found: {root} has no train/ and test/, and the '
            f'tar {tar_path} does not exist (pass --cifar-tar)')
    log(f'unpacking {tar_path} into {root}')
    os.makedirs(root, exist_ok=True)
    with tarfile.open(tar_path) as tar:
        tar.extractall(root, filter='data')


def write_subset(root: str, split: str, num: int, total: int) -> str:
    """Annotation file of every ``total // num``-th image of a split.

    The class folders are sorted, so a fixed stride gives the same number of
    images of every class. Returns the file's path relative to ``root``.
    """
    split_dir = osp.join(root, split)
    classes = sorted(d for d in os.listdir(split_dir)
                     if osp.isdir(osp.join(split_dir, d)))
    files = [(f'{cls}/{name}', label) for label, cls in enumerate(classes)
             for name in sorted(os.listdir(osp.join(split_dir, cls)))]
    if len(files) != total:
        raise ValueError(f'{split_dir} holds {len(files)} images, expected '
                         f'{total} (CIFAR-10 JPEG layout)')
    if not 0 < num <= total:
        raise ValueError(f'--num-{split} must be in [1, {total}], got {num}')
    chosen = files[::total // num][:num]
    rel = osp.join('meta', f'{split}_{num}.txt')
    path = osp.join(root, rel)
    os.makedirs(osp.dirname(path), exist_ok=True)
    text = ''.join(f'{name} {label}\n' for name, label in chosen)
    if not osp.isfile(path) or open(path).read() != text:
        with open(path + '.tmp', 'w') as f:
            f.write(text)
        os.replace(path + '.tmp', path)
    return rel


# -------------------------------------------------------------- stages ---
def run_tool(name: str, argv: List[str]) -> None:
    """Run ``tools/<name>.py`` in this process (no second interpreter)."""
    spec = importlib.util.spec_from_file_location(
        f'_tool_{name}', osp.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    saved = sys.argv
    sys.argv = [f'{name}.py'] + argv
    try:
        module.main()
    finally:
        sys.argv = saved


def train_stage(name: str, config: str, work_dir: str, epochs: int,
                options: dict, force: bool, no_validate: bool = False) -> str:
    """Train one network unless its final checkpoint exists; return it."""
    ckpt = osp.join(work_dir, f'epoch_{epochs}.pth')
    if osp.isfile(ckpt) and not force:
        log(f'{name}: reusing {ckpt}')
        return ckpt
    if osp.isdir(work_dir):
        shutil.rmtree(work_dir)  # a partial run: start it clean
    log(f'{name}: training {epochs} epochs -> {work_dir}')
    cfg = load_config(config, work_dir=work_dir, cfg_options=options,
                      no_validate=no_validate)
    train(cfg)
    if not osp.isfile(ckpt):
        raise RuntimeError(f'{name}: expected checkpoint {ckpt} not written')
    return ckpt


def probe_stage(method: str, target: str, checkpoint: str, work_dir: str,
                options: dict, args: argparse.Namespace) -> None:
    """Multi-layer linear probe, evaluated once after the last epoch."""
    from cf_mm.evaluation.report import records_from_work_dir
    epochs = args.probe_epochs
    done = osp.join(work_dir, 'probe_done.json')
    if osp.isfile(done) and not args.force:
        with open(done) as f:
            if json.load(f).get('checkpoint') == osp.abspath(checkpoint):
                log(f'probe {method} / {target}: reusing {work_dir}')
                return
    options = dict(
        options, **{
            'model.backbone.init_cfg.checkpoint': checkpoint,
            'train_cfg.max_epochs': epochs,
            'train_cfg.val_interval': epochs,
            'param_scheduler.milestones': [epochs // 2, (3 * epochs) // 4],
        })
    train_stage(f'probe {method} / {target}', PROBE_CFGS[target], work_dir,
                epochs, options, force=True)
    records = records_from_work_dir(work_dir, method, target)
    with open(done, 'w') as f:
        json.dump(dict(checkpoint=osp.abspath(checkpoint), records=records),
                  f, indent=2)


def knn_stage(method: str, target: str, config: str,
              checkpoint: Optional[str], out: str, options: List[str],
              args: argparse.Namespace) -> None:
    """kNN / 1-NN on frozen globally pooled features (tools/eval_knn.py)."""
    if osp.isfile(out) and not args.force:
        log(f'kNN {method} / {target}: reusing {out}')
        return
    log(f'kNN {method} / {target} ({args.knn_layers})')
    argv = [
        '--config', config, '--data-config', PROBE_CFGS[target],
        '--layers', args.knn_layers, '--k', str(args.knn_k),
        '--method', method, '--target', f'{target}-kNN', '--out', out,
        '--batch-size', '256', '--num-workers', str(args.num_workers),
        '--device', 'cpu'
    ]
    if checkpoint is not None:
        argv += ['--checkpoint', checkpoint]
    else:
        import torch
        torch.manual_seed(0)  # a reproducible random-init network
    if options:
        argv += ['--cfg-options'] + options
    run_tool('eval_knn', argv)


def cluster_stage(cf_dir: str, ann_file: str, out: str) -> dict:
    """Cluster-size statistics and agreement of clusters with the classes."""
    from cf_mm.evaluation.feature_metrics import clustering_agreement
    cluster_dir = osp.join(cf_dir, 'clusterfit', 'default')
    with open(osp.join(cluster_dir, 'summary.json')) as f:
        summary = json.load(f)
    labels = np.load(osp.join(cluster_dir, 'labels.npy'))
    with open(ann_file) as f:
        classes = np.array([int(line.rsplit(' ', 1)[1]) for line in f])
    if len(classes) != len(labels):
        raise ValueError(f'{cluster_dir}/labels.npy has {len(labels)} rows '
                         f'but {ann_file} {len(classes)}: delete {cf_dir}')
    # Purity: share of images whose cluster's majority class is theirs.
    table = np.zeros((labels.max() + 1, classes.max() + 1), dtype=np.int64)
    np.add.at(table, (labels, classes), 1)
    stats = dict(
        summary.get('stats', {}),
        **clustering_agreement(labels, classes),
        purity=float(table.max(axis=1).sum() / len(labels)))
    with open(out, 'w') as f:
        json.dump(stats, f, indent=2)
    return stats


# -------------------------------------------------------------- report ---
def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    import torch
    return (f'{os.cpu_count()} CPU cores ({cpu}), torch {torch.__version__}, '
            f'{"CUDA" if torch.cuda.is_available() else "no GPU"}')


def write_results(args: argparse.Namespace, report_dir: str,
                  cluster_stats: dict, seconds: Dict[str, float]) -> str:
    """``results.md`` / ``results.json`` from the report tables."""

    def read(name: str) -> str:
        path = osp.join(report_dir, name)
        return open(path).read().strip() if osp.isfile(path) else \
            f'({name} missing)'

    settings = dict(
        num_train=args.num_train, num_test=args.num_test,
        num_fmnist_train=args.num_fmnist_train,
        num_fmnist_test=args.num_fmnist_test, epochs=args.epochs,
        num_clusters=args.num_clusters, probe_epochs=args.probe_epochs,
        knn_k=args.knn_k, knn_layers=args.knn_layers)
    lines = [
        '## Table 6 style: best layer per target',
        '', read('table.md'), '',
        '## CIFAR-10 linear probe per layer (top-1)',
        '', read('layers_cifar10_top1.md'), '',
        '## Fashion-MNIST (transfer) linear probe per layer (top-1)',
        '', read('layers_fmnist_top1.md'), '',
        f'## CIFAR-10 kNN (k={args.knn_k}) per layer (top-1)',
        '', read('layers_cifar10-kNN_knn_top1.md'), '',
        f'## Fashion-MNIST (transfer) kNN (k={args.knn_k}) per layer '
        '(top-1)', '', read('layers_fmnist-kNN_knn_top1.md'), '',
        '## Clusters (k-means on N_pre res5, CIFAR-10 train subset)', '',
        ', '.join(f'{k}={v:.4g}' if isinstance(v, float) else f'{k}={v}'
                  for k, v in cluster_stats.items()), '',
        '## Settings and wall time', '',
        ', '.join(f'{k}={v}' for k, v in settings.items()), '',
        'machine: ' + machine(), '',
        'seconds: ' + ', '.join(f'{k}={v:.0f}' for k, v in seconds.items()),
    ]
    text = '\n'.join(lines) + '\n'
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(text)
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(dict(settings=settings, cluster_stats=cluster_stats,
                       seconds=seconds, machine=machine()), f, indent=2)
    return text


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    for name in ('work_dir', 'figures_dir', 'cifar_root', 'cifar_tar',
                 'fmnist_root', 'fmnist_src'):
        if getattr(args, name):
            setattr(args, name, osp.abspath(getattr(args, name)))
    os.chdir(ROOT)  # the configs name other files relative to the repo
    for flag in ('num_train', 'num_test', 'epochs', 'num_clusters',
                 'probe_epochs'):
        if getattr(args, flag) < 1:
            raise ValueError(f'--{flag.replace("_", "-")} must be >= 1')
    os.makedirs(args.work_dir, exist_ok=True)
    timing_file = osp.join(args.work_dir, 'seconds.json')
    seconds: Dict[str, float] = {}
    if osp.isfile(timing_file) and not args.force:
        with open(timing_file) as f:
            seconds = json.load(f)

    def timed(stage: str, fn, *fn_args, **fn_kwargs):
        start = time.time()
        result = fn(*fn_args, **fn_kwargs)
        elapsed = time.time() - start
        if elapsed > 1 or stage not in seconds:  # keep a skipped stage's time
            seconds[stage] = elapsed
            with open(timing_file, 'w') as f:
                json.dump(seconds, f, indent=2)
        log(f'{stage}: {elapsed:.0f} s')
        return result

    # Data: CIFAR-10 subsets as annotation files, Fashion-MNIST unpacked.
    prepare_cifar10(args.cifar_root, args.cifar_tar)
    train_ann = write_subset(args.cifar_root, 'train', args.num_train,
                             CIFAR_TRAIN_SIZE)
    test_ann = write_subset(args.cifar_root, 'test', args.num_test,
                            CIFAR_TEST_SIZE)
    prepare_fashion_mnist(args.fmnist_src, args.fmnist_root)
    workers = {
        split: {
            f'{split}_dataloader.num_workers': args.num_workers,
            f'{split}_dataloader.persistent_workers': args.num_workers > 0,
        }
        for split in ('train', 'val', 'test')
    }
    loader = workers['train']
    probe_loader = dict(loader, **workers['val'], **workers['test'])
    cifar = {'data_root': args.cifar_root}
    ds = 'train_dataloader.dataset'
    train_data = {f'{ds}.{k}': v for k, v in cifar.items()}
    train_data[f'{ds}.ann_file'] = train_ann

    # 1. RotNet N_pre.
    rotnet_ckpt = timed(
        'rotnet', train_stage, 'RotNet N_pre', ROTNET_CFG,
        osp.join(args.work_dir, 'rotnet'), args.epochs,
        dict(loader, **train_data, **{
            'train_dataloader.batch_size': args.batch_size,
            'train_cfg.max_epochs': args.epochs,
            'param_scheduler.T_max': args.epochs,
        }), args.force)

    # 2. ClusterFit N_cf: same architecture, same epochs, from scratch.
    cf_dir = osp.join(args.work_dir, 'clusterfit')
    k = args.num_clusters
    cf_ckpt = timed(
        'clusterfit', train_stage, 'ClusterFit N_cf', CLUSTERFIT_CFG, cf_dir,
        args.epochs,
        dict(loader, **{
            f'{ds}.dataset.data_root': args.cifar_root,
            f'{ds}.dataset.ann_file': train_ann,
            'train_dataloader.batch_size': args.batch_size,
            'custom_hooks.0.pretrained_config': ROTNET_CFG,
            'custom_hooks.0.pretrained_checkpoint': rotnet_ckpt,
            'custom_hooks.0.num_clusters': k,
            'custom_hooks.0.num_workers': args.num_workers,
            'model.head.num_classes': k,
            'model.data_preprocessor.num_classes': k,
            'train_cfg.max_epochs': args.epochs,
            'param_scheduler.T_max': args.epochs,
        }), args.force)
    cluster_stats = cluster_stage(
        cf_dir, osp.join(args.cifar_root, train_ann),
        osp.join(args.work_dir, 'clusters.json'))
    log('clusters: ' + json.dumps(cluster_stats))

    # 3. Multi-layer linear probes of both networks on both targets.
    probe_data = {
        'cifar10': dict(probe_loader, **train_data, **{
            'val_dataloader.dataset.data_root': args.cifar_root,
            'val_dataloader.dataset.ann_file': test_ann,
            'test_dataloader.dataset.data_root': args.cifar_root,
            'test_dataloader.dataset.ann_file': test_ann,
        }),
        'fmnist': dict(probe_loader, **{
            f'{ds}.data_prefix': args.fmnist_root,
            f'{ds}.indices': args.num_fmnist_train,
            'val_dataloader.dataset.data_prefix': args.fmnist_root,
            'val_dataloader.dataset.indices': args.num_fmnist_test,
            'test_dataloader.dataset.data_prefix': args.fmnist_root,
            'test_dataloader.dataset.indices': args.num_fmnist_test,
        }),
    }
    checkpoints = dict(zip(METHODS, (rotnet_ckpt, cf_ckpt)))
    # The configs as trained (with this run's K), dumped by the Runner.
    stage_configs = {
        method: osp.join(osp.dirname(ckpt), osp.basename(config))
        for method, ckpt, config in zip(METHODS, (rotnet_ckpt, cf_ckpt),
                                        (ROTNET_CFG, CLUSTERFIT_CFG))
    }
    probe_dirs = {}
    for target, options in probe_data.items():
        for method, ckpt in checkpoints.items():
            tag = 'npre' if method == METHODS[0] else 'ncf'
            work_dir = osp.join(args.work_dir, f'probe_{tag}_{target}')
            probe_dirs[(method, target)] = work_dir
            timed(f'probe_{tag}_{target}', probe_stage, method, target, ckpt,
                  work_dir, options, args)

    # 4. kNN on frozen res4/res5 (and a random-init network as the floor).
    knn_options = {
        'cifar10': [
            f'train_dataloader.dataset.data_root={args.cifar_root}',
            f'train_dataloader.dataset.ann_file={train_ann}',
            f'test_dataloader.dataset.data_root={args.cifar_root}',
            f'test_dataloader.dataset.ann_file={test_ann}',
        ],
        'fmnist': [
            f'train_dataloader.dataset.data_prefix={args.fmnist_root}',
            f'train_dataloader.dataset.indices={args.num_fmnist_train}',
            f'test_dataloader.dataset.data_prefix={args.fmnist_root}',
            f'test_dataloader.dataset.indices={args.num_fmnist_test}',
        ],
    }
    knn_files = []
    knn_runs = [('random init', ROTNET_CFG, None)] + [
        (m, stage_configs[m], checkpoints[m]) for m in METHODS
    ]
    for target, options in knn_options.items():
        for method, config, ckpt in knn_runs:
            tag = method.split()[-1].replace('_', '').lower()
            out = osp.join(args.work_dir, 'knn', f'{tag}_{target}.json')
            knn_files.append(out)
            timed(f'knn_{tag}_{target}', knn_stage, method, target, config,
                  ckpt, out, options, args)

    # 5. Tables and plots (tools/report.py), results.md.
    report_dir = osp.join(args.work_dir, 'report')
    report_argv = list(knn_files)
    for (method, target), work_dir in probe_dirs.items():
        report_argv += ['--probe', method, target, work_dir]
    report_argv += [
        '--metric', 'cifar10-kNN=knn_top1', '--metric', 'fmnist-kNN=knn_top1',
        '--layer-targets', 'cifar10,fmnist', '--out-dir', report_dir
    ]
    run_tool('report', report_argv)
    # The kNN layer tables (res4 vs res5), from the same records.
    run_tool('report', knn_files + [
        '--layer-targets', 'cifar10-kNN,fmnist-kNN', '--layer-metric',
        'knn_top1', '--out-dir', osp.join(report_dir, 'knn')
    ])
    for name in os.listdir(osp.join(report_dir, 'knn')):
        if name.startswith('layers_'):
            shutil.copy(osp.join(report_dir, 'knn', name), report_dir)
    if args.figures_dir:
        os.makedirs(args.figures_dir, exist_ok=True)
        for name in sorted(os.listdir(report_dir)):
            if name.startswith('layers_') and name.endswith('.png'):
                shutil.copy(osp.join(report_dir, name),
                            osp.join(args.figures_dir, f'reproduction_{name}'))
    text = write_results(args, report_dir, cluster_stats, seconds)
    print('\n' + text)
    log(f'done; results in {osp.join(args.work_dir, "results.md")}')


if __name__ == '__main__':
    main()
