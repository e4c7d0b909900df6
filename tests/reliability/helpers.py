"""Shared pieces of the reliability tests: tiny real data, configs, tools."""
import hashlib
import importlib.util
import os
import os.path as osp
import subprocess
import sys
import textwrap

import numpy as np

from cf_mm.apis import load_config
from tests.conftest import CLUSTERFIT_CFG, REPO, ROTNET_CFG, tiny_options

K = 8
PYTHON = sys.executable


def sha256_file(path) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def label_dir(work_dir, task='default') -> str:
    return osp.join(str(work_dir), 'clusterfit', task)


def clusterfit_cfg(fmnist_root, checkpoint, work_dir, epochs=1, k=K,
                   num=None, **extra):
    """The demo ClusterFit config shrunk to a few seconds (200 images)."""
    options = tiny_options(fmnist_root, wrapped=True, epochs=epochs)
    if num is not None:
        options['train_dataloader.dataset.dataset.indices'] = num
    options.update({
        'custom_hooks.0.pretrained_config': ROTNET_CFG,
        'custom_hooks.0.pretrained_checkpoint': checkpoint,
        'custom_hooks.0.num_clusters': k,
        'custom_hooks.0.num_workers': 0,
        'custom_hooks.0.batch_size': 64,
        'model.head.num_classes': k,
        'model.data_preprocessor.num_classes': k,
    })
    options.update(extra)
    return load_config(CLUSTERFIT_CFG, work_dir=str(work_dir),
                       cfg_options=options)


def write_image_folder(fmnist_root, folder, num=40) -> list:
    """The first ``num`` Fashion-MNIST train images as PNG files."""
    import cv2
    from mmpretrain.datasets import FashionMNIST
    data = FashionMNIST(data_prefix=fmnist_root, download=False,
                        indices=num)
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(num):
        path = osp.join(folder, f'img_{i:04d}.png')
        cv2.imwrite(path, np.asarray(data.get_data_info(i)['img']))
        paths.append(path)
    return paths


FOLDER_PIPELINE = [dict(type='LoadImageFromFile', color_type='grayscale'),
                   dict(type='PackInputs')]


def folder_cfg(folder, checkpoint, work_dir, k=4, epochs=1):
    """ClusterFit over an image folder (CustomDataset, files on disk)."""
    cfg = clusterfit_cfg(None, checkpoint, work_dir, epochs=epochs, k=k)
    cfg.train_dataloader.dataset.dataset = dict(
        type='CustomDataset', data_root=str(folder), with_label=False,
        pipeline=FOLDER_PIPELINE)
    cfg.custom_hooks[0].extract_pipeline = FOLDER_PIPELINE
    cfg.train_dataloader.batch_size = 16
    return cfg


def write_config(path, text) -> str:
    with open(path, 'w') as f:
        f.write(textwrap.dedent(text))
    return str(path)


def load_tool(name):
    """``tools/<name>.py`` as a module (its ``main``/``parse_args``)."""
    path = osp.join(REPO, 'tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'tool_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool_inprocess(name, argv, monkeypatch, capsys):
    """Run a tool as ``python tools/<name>.py argv`` would, in-process.

    Returns:
        tuple: ``(exit code, stdout, stderr)``.
    """
    from cf_mm.utils.cli import run_main
    module = load_tool(name)
    monkeypatch.setattr(sys, 'argv', [f'tools/{name}.py'] + list(argv))
    fresh_current_logger(name)
    code = 0
    try:
        run_main(module.main)
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err


def fresh_current_logger(name):
    """A new current MMLogger writing to today's ``sys.stdout``: the one an
    earlier test left current may hold a captured stream pytest has closed
    since ("--- Logging error ---" on stderr)."""
    import uuid

    from mmengine.logging import MMLogger
    MMLogger.get_instance(f'{name}-{uuid.uuid4().hex[:8]}', log_level='INFO')


def call_tool(name, argv):
    """:func:`run_tool_inprocess` without pytest fixtures (for fixtures of
    wider scope): ``sys.argv`` set and restored, output captured.

    Returns:
        tuple: ``(exit code, stdout, stderr)``.
    """
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from cf_mm.utils.cli import run_main
    module = load_tool(name)
    out, err, argv_before = io.StringIO(), io.StringIO(), sys.argv
    sys.argv = [f'tools/{name}.py'] + [str(a) for a in argv]
    fresh_current_logger(name)
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            run_main(module.main)
    except SystemExit as exit_:
        code = exit_.code
    finally:
        sys.argv = argv_before
    return code, out.getvalue(), err.getvalue()


def env():
    out = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1',
               MKL_NUM_THREADS='1')
    return out


def run_tool(name, *args, timeout=300):
    """``python tools/<name>.py args`` in a subprocess."""
    return subprocess.run([PYTHON, osp.join(REPO, 'tools', f'{name}.py'),
                           *map(str, args)], cwd=REPO, env=env(),
                          capture_output=True, text=True, timeout=timeout)
