"""Shared fixtures: real Fashion-MNIST images and a tiny real RotNet checkpoint.

Everything runs through the real stack (mmengine Runner, mmpretrain models,
faiss). Data come from Debian's ``dataset-fashion-mnist`` package, which the
README's set-up command installs.
"""
import os
import os.path as osp

import pytest

import cf_mm  # noqa: F401  (registers components)
from cf_mm.apis import load_config, train
from cf_mm.datasets.fashion_mnist import DEBIAN_DIR, prepare_fashion_mnist

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO_CONFIGS = osp.join(REPO, 'configs', 'demo')
ROTNET_CFG = osp.join(DEMO_CONFIGS,
                      'rotnet_resnet18-w16_1xb64-coslr-2e_fmnist10k.py')
CLUSTERFIT_CFG = osp.join(
    DEMO_CONFIGS, 'clusterfit-rotnet-k50_resnet18-w16_1xb64-coslr-4e_fmnist10k.py')
NUM_TINY = 200  # not a multiple of the batch size, on purpose


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: long tests, not run in CI')


@pytest.fixture(scope='session')
def fmnist_root(tmp_path_factory) -> str:
    """Unpacked Fashion-MNIST (real images)."""
    if not osp.isdir(DEBIAN_DIR):
        pytest.fail(f'{DEBIAN_DIR} missing: run `apt-get install '
                    'dataset-fashion-mnist` (the README set-up does)')
    cached = osp.join(REPO, 'data', 'fashion_mnist')
    return prepare_fashion_mnist(DEBIAN_DIR, cached)


def tiny_options(fmnist_root: str, num: int = NUM_TINY, epochs: int = 1,
                 wrapped: bool = False, num_workers: int = 0) -> dict:
    """cfg-options that shrink a demo config to a few seconds of training."""
    key = 'train_dataloader.dataset' + ('.dataset' if wrapped else '')
    return {
        f'{key}.data_prefix': fmnist_root,
        f'{key}.indices': num,
        'train_dataloader.batch_size': 32,
        'train_dataloader.num_workers': num_workers,
        'train_dataloader.persistent_workers': num_workers > 0,
        'train_cfg.max_epochs': epochs,
        'param_scheduler.T_max': epochs,
        'default_hooks.logger.interval': 1,
    }


@pytest.fixture(scope='session')
def rotnet_checkpoint(fmnist_root, tmp_path_factory) -> str:
    """A real RotNet N_pre checkpoint trained for one short epoch."""
    work_dir = str(tmp_path_factory.mktemp('rotnet'))
    cfg = load_config(ROTNET_CFG, work_dir=work_dir,
                      cfg_options=tiny_options(fmnist_root))
    train(cfg)
    ckpt = osp.join(work_dir, 'epoch_1.pth')
    assert osp.isfile(ckpt)
    return ckpt


@pytest.fixture(autouse=True)
def _cwd_repo(monkeypatch):
    """Run from the repo root, as users do (configs use relative paths)."""
    monkeypatch.chdir(REPO)
    os.environ.setdefault('OMP_NUM_THREADS', '2')
