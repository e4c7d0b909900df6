"""Fixtures of the video tests: generated clips and a tiny real N_pre.

Every fixture skips (with the reason) when mmaction2 is not installed:
``pip install -e ".[video]"`` installs it.
"""
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs', 'video', 'demo')
NPRE_CFG = osp.join(DEMO,
                    'randomtag_r2plus1d-r18-w8_1xb16-coslr-4e_synthetic.py')
NCF_CFG = osp.join(
    DEMO, 'clusterfit-k16_r2plus1d-r18-w8_1xb16-coslr-4e_synthetic.py')
NUM_TRAIN = 20
NUM_FRAMES = 24


def require_mmaction():
    pytest.importorskip(
        'mmaction', reason='mmaction2 not installed: pip install -e ".[video]"')
    import cf_mm.video  # noqa: F401  (registers the video components)


@pytest.fixture(scope='session')
def video_root(fmnist_root, tmp_path_factory) -> str:
    """``NUM_TRAIN`` train and 8 val clips (24 frames) with annotations."""
    pytest.importorskip('cv2')
    from cf_mm.datasets.video_synthetic import make_synthetic_videos
    root = str(tmp_path_factory.mktemp('videos'))
    make_synthetic_videos(fmnist_root, root,
                          splits=(('train', NUM_TRAIN), ('val', 8)),
                          num_frames=NUM_FRAMES, progress=False)
    return root


def video_options(root: str, wrapped: bool = False,
                  num_workers: int = 0) -> dict:
    """cfg-options pointing a demo config at ``root``, one short epoch."""
    key = 'train_dataloader.dataset' + ('.dataset' if wrapped else '')
    return {
        f'{key}.data_prefix': dict(video=root),
        'train_dataloader.batch_size': 8,
        'train_dataloader.num_workers': num_workers,
        'train_dataloader.persistent_workers': num_workers > 0,
        'train_cfg.max_epochs': 1,
        'param_scheduler.T_max': 1,
        'default_hooks.logger.interval': 1,
    }


@pytest.fixture(scope='session')
def npre_checkpoint(video_root, tmp_path_factory) -> str:
    """A real N_pre checkpoint of the demo's multi-label R(2+1)D (initial
    weights: the tests check plumbing, not learning)."""
    require_mmaction()
    from mmengine.config import Config
    from mmengine.runner import save_checkpoint

    from cf_mm.features.extract import build_extraction_model
    model = build_extraction_model(Config.fromfile(NPRE_CFG))
    path = osp.join(str(tmp_path_factory.mktemp('npre')), 'npre.pth')
    save_checkpoint({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path
