"""Every paper-scale chain, trained a step per stage before any GPU sees it
(issue 23, item 8).

Each stage is ``python tools/train.py CONFIG`` run from a project folder
holding tiny datasets in the layouts the configs expect
(:mod:`tests.paper_scale.tiny_data`: ``data/imagenet`` ...), so the data
roots are the configs' own; every stage writes to its default work dir
(``work_dirs/<config name>``) and reads the previous stage's checkpoint
where its config says (``work_dirs/<N_pre>/last_checkpoint``). Overridden:
the length (``train_cfg.max_epochs=1``, one step on 12 images; video:
``train_cfg.max_iters=1``), K with the one setting ``num_clusters=<K>``
(the paper's K exceed a tiny folder) and, for the probes, the backbone
checkpoint the probe configs leave to the command line.

Slow (minutes per chain on a 2-core CPU): run with
``pytest -m slow tests/paper_scale``.
"""
import json
import os
import os.path as osp
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from tests.conftest import REPO
from tests.paper_scale.tiny_data import make_project

pytestmark = pytest.mark.slow

K = 4  # clusters of the 12 tiny train images
LINEAR = 'configs/benchmarks/linear-res5-avg_resnet50_8xb32-steplr-28e_in1k.py'
MULTILAYER = ('configs/benchmarks/'
              'linear-multilayer_resnet50_8xb32-steplr-28e_in1k.py')
PLACES = ('configs/benchmarks/'
          'linear-multilayer_resnet50_8xb32-steplr-14e_places205.py')
ROTNET = 'configs/rotnet/rotnet_resnet50_8xb32-steplr-105e_in1k.py'
CLUSTERFIT = 'configs/clusterfit_rotnet.py'


def work_dir(config: str) -> str:
    return osp.join('work_dirs', osp.splitext(osp.basename(config))[0])


def last(config: str) -> str:
    """What a config names to read a run's checkpoint."""
    return osp.join(work_dir(config), 'last_checkpoint')


class Stages:
    """Runs ``tools/train.py`` once per config in the project folder."""

    def __init__(self, root: str):
        self.root = root
        self.seconds = {}

    def train(self, config: str, *options: str, iters: bool = False) -> str:
        """Train ``config`` for one step (once); returns its work dir."""
        if config in self.seconds:
            return osp.join(self.root, work_dir(config))
        length = 'train_cfg.max_iters=1' if iters else \
            'train_cfg.max_epochs=1'
        tic = time.time()
        proc = subprocess.run(
            [sys.executable, osp.join(REPO, 'tools', 'train.py'), config,
             '--cfg-options', length, *options],
            cwd=self.root, capture_output=True, text=True, timeout=3600,
            env=dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1'))
        self.seconds[config] = round(time.time() - tic, 1)
        with open(osp.join(self.root, 'stage_seconds.json'), 'w') as f:
            json.dump(self.seconds, f, indent=1)
        assert proc.returncode == 0, (
            f'{config} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}')
        out = osp.join(self.root, work_dir(config))
        with open(osp.join(out, 'last_checkpoint')) as f:
            assert osp.isfile(f.read().strip())
        return out


@pytest.fixture(scope='module')
def stages(tmp_path_factory, fmnist_root):
    root = str(tmp_path_factory.mktemp('project'))
    make_project(root, fmnist_root, REPO)
    stages = Stages(root)
    yield stages
    print('seconds per stage:', json.dumps(stages.seconds, indent=1))


def state(path: str) -> dict:
    with open(osp.join(path, 'last_checkpoint')) as f:
        return torch.load(f.read().strip(), map_location='cpu')['state_dict']


def backbone_of(probe_dir: str, source_dir: str) -> None:
    """The probe's frozen backbone is the source run's, weight for weight
    (BN statistics included: norm_eval)."""
    probe, source = state(probe_dir), state(source_dir)
    keys = [k for k in source if k.startswith('backbone.')]
    assert keys
    for key in keys:
        assert torch.equal(probe[key], source[key]), key


def labels_of(run_dir: str, task: str = 'default') -> np.ndarray:
    return np.load(osp.join(run_dir, 'clusterfit', task, 'labels.npy'))


def sl_configs() -> list:
    return [f'configs/sl_mlp/{name}_resnet50_8xb128-coslr-{epochs}e_in1k'
            f'{split}.py' for name in ('sl', 'sl-mlp')
            for epochs in (100, 300) for split in ('', '-pre-d')]


SL_PRE_D = 'configs/sl_mlp/sl-mlp_resnet50_8xb128-coslr-100e_in1k-pre-d.py'
VIDEO_NPRE = ('configs/video/randomtag_r2plus1d-r34_128xb6-steplr-26e_'
              'ig-verb-19m.py')
VIDEO_NCF = ('configs/video/clusterfit-r2plus1d-r34-k3200_r2plus1d-r34_'
             '128xb6-steplr-26e_ig-verb-19m.py')
PROBE = 'model.backbone.init_cfg.checkpoint='
QUEUE = ('model.queue_len=8', )  # CompRess memory bank <= the 12 images
MOCO = 'configs/compress/mocov2_resnet50_8xb32-coslr-200e_in1k.py'

#: chain -> stages ``(config, --cfg-options besides the length)``, in
#: order; a stage already trained by an earlier chain is reused.
CHAINS = {
    'rotnet': [
        (ROTNET, ()),
        ('configs/rotnet/rotnet_resnet50_8xb32-steplr-210e_in1k.py', ()),
        (CLUSTERFIT, (f'num_clusters={K}', )),
        ('configs/clusterfit/clusterfit-rotnet-res4-k16000_resnet50_8xb32-'
         'steplr-105e_in1k.py', (f'num_clusters={K}', )),
        ('configs/clusterfit/clusterfit-multik-multitask-rotnet-k1000-4000-'
         '16000_resnet50_'
         '8xb32-steplr-105e_in1k.py', ('num_clusters=[2,3,4]', )),
        (LINEAR, (PROBE + last(CLUSTERFIT), )),
        (MULTILAYER, (PROBE + last(ROTNET), )),
        (PLACES, (PROBE + last(CLUSTERFIT), )),
    ],
    'jigsaw': [
        (ROTNET, ()),
        ('configs/jigsaw/jigsaw_resnet50_8xb32-steplr-105e_in1k.py', ()),
        ('configs/jigsaw/jigsaw_resnet50_8xb32-steplr-210e_in1k.py', ()),
        ('configs/clusterfit_multitask_jigsaw_rotnet.py',
         (f'num_clusters={K}', )),
    ],
    'noisy': [
        *[(f'configs/supervised_noise/supervised-noise{p}_resnet50_8xb32-'
           'steplr-100e_in1k.py', ()) for p in (0, 25, 50, 75, 100)],
        ('configs/distillation/distillation-noise50_resnet50_8xb32-steplr-'
         '100e_in1k.py', ()),
    ],
    'weak_labels': [
        ('configs/weakly_supervised/multilabel_resnet50_8xb32-steplr-105e_'
         'tags.py', ()),
        ('configs/weakly_supervised/clusterfit-multilabel-k16000_resnet50_'
         '8xb32-steplr-105e_in1k.py', (f'num_clusters={K}', )),
        ('configs/weakly_supervised/multilabel-sigmoid_resnet50_8xb32-'
         'steplr-105e_tags.py', ()),
    ],
    'sl_mlp': [
        *[(config, ()) for config in sl_configs()],
        ('configs/sl_mlp/linear-res5-avg_resnet50_8xb32-coslr-100e_in1k-'
         'eval-d.py', (PROBE + last(SL_PRE_D), )),
        (ROTNET, ()),
        ('configs/sl_mlp/clusterfit-rotnet-k16000-mlp_resnet50_8xb32-steplr-'
         '105e_in1k.py', (f'num_clusters={K}', )),
        ('configs/sl_mlp/multilabel-mlp_resnet50_8xb32-steplr-105e_tags.py',
         ()),
        *[(f'configs/sl_mlp/supervised-noise{p}-mlp_resnet50_8xb32-steplr-'
           '100e_in1k.py', ()) for p in (0, 50)],
    ],
    'compress': [
        (ROTNET, ()),
        (CLUSTERFIT, (f'num_clusters={K}', )),
        # The memory bank (128000 in the configs) must not exceed the
        # training set (12 images here), which CompRess checks before the
        # first step: the bank size, like K, is set to fit the tiny data.
        *[(f'configs/compress/{name}_in1k.py', QUEUE) for name in (
            'compress-1q_resnet50-to-resnet18_8xb32-steplr-130e',
            'compress-2q_resnet50-to-resnet18_8xb32-steplr-130e')],
        *[(f'configs/compress/{name}_in1k.py', ()) for name in (
            'reg_resnet50-to-resnet18_8xb32-steplr-100e',
            'reg-bn_resnet50-to-resnet18_8xb32-steplr-100e')],
        # CC clusters the N_cf teacher's features: that N_cf ran with
        # num_clusters=4, so its model is the config its run dumped into its
        # work dir, not configs/clusterfit_rotnet.py (16000 classes).
        ('configs/compress/cc-k16000_resnet50-to-resnet18_8xb32-coslr-100e_'
         'in1k.py', (f'num_clusters={K}', 'custom_hooks.0.pretrained_config='
                     + osp.join(work_dir(CLUSTERFIT),
                                osp.basename(CLUSTERFIT)))),
        # CompRess's own teacher (MoCo v2, its neck's embedding). Its
        # students name mmselfsup's released weights (a download); here they
        # read the MoCo v2 trained one stage earlier.
        (MOCO, ()),
        *[(f'configs/compress/{name}_in1k.py',
           ('model.teacher.checkpoint=' + last(MOCO), *QUEUE)) for name in (
            'compress-1q_mocov2-resnet50-to-resnet18_8xb32-steplr-130e',
            'compress-2q_mocov2-resnet50-to-resnet18_8xb32-steplr-130e')],
    ],
    'video_table5': [
        (VIDEO_NPRE, ()),
        # After one SGD step the R(2+1)D-34's eval-mode features of the few
        # generated clips barely differ: k-means left 2 of 3 clusters empty
        # (2026-12-06), which the hook refuses (issue 21 item 8). The
        # rehearsal checks the hand-over, not the clusters.
        (VIDEO_NCF, ('num_clusters=3',
                     'custom_hooks.0.allow_degenerate=True')),
        ('configs/video/linear-res5_r2plus1d-r34_8xb32-steplr-28e_'
         'kinetics400.py', ('model.backbone_checkpoint=' + last(VIDEO_NCF),
                            )),
    ],
}


def run_chain(stages: Stages, name: str) -> None:
    for config, options in CHAINS[name]:
        stages.train(config, *options, iters='/video/' in config
                     and 'linear' not in config)


def test_rotnet_chain(stages):
    """RotNet N_pre (and N_pre 2x) -> ClusterFit (res5, res4, a K sweep)
    -> res5 and multi-layer probes on ImageNet, multi-layer on Places205."""
    run_chain(stages, 'rotnet')
    ncf = osp.join(stages.root, work_dir(CLUSTERFIT))
    assert labels_of(ncf).shape == (12, ) and labels_of(ncf).max() < K
    assert state(ncf)['head.fc.weight'].shape[0] == K
    sweep = osp.join(stages.root, work_dir(CHAINS['rotnet'][4][0]))
    for k in (2, 3, 4):
        assert labels_of(sweep, f'k{k}').max() < k
        assert state(sweep)[f'head.task_heads.k{k}.fc.weight'].shape[0] == k
    backbone_of(osp.join(stages.root, work_dir(LINEAR)), ncf)
    backbone_of(osp.join(stages.root, work_dir(MULTILAYER)),
                osp.join(stages.root, work_dir(ROTNET)))


def test_jigsaw_and_multitask_chain(stages):
    """Jigsaw N_pre (and 2x) -> multi-task ClusterFit with the RotNet
    N_pre's labels (appendix E)."""
    run_chain(stages, 'jigsaw')
    ncf = osp.join(stages.root,
                   work_dir('configs/clusterfit_multitask_jigsaw_rotnet.py'))
    for task in ('jigsaw', 'rotnet'):
        assert labels_of(ncf, task).max() < K


def test_noisy_label_chain(stages):
    """Supervised N_pre with p = 0 ... 100 % label noise; the distillation
    baseline from the p = 50 % teacher."""
    run_chain(stages, 'noisy')


def test_weak_label_chain(stages):
    """Multi-label (hashtag) N_pre -> ClusterFit on ImageNet images."""
    run_chain(stages, 'weak_labels')
    ncf = osp.join(stages.root, work_dir(CHAINS['weak_labels'][1][0]))
    assert labels_of(ncf).max() < K


def test_sl_mlp_chain(stages):
    """SL and SL-MLP (100 / 300 epochs, ImageNet and the concept split's
    pre-D) -> the eval-D probe; the projector variants of N_cf and of the
    noisy and weak-label N_pre."""
    run_chain(stages, 'sl_mlp')
    probe = CHAINS['sl_mlp'][len(sl_configs())][0]
    backbone_of(osp.join(stages.root, work_dir(probe)),
                osp.join(stages.root, work_dir(SL_PRE_D)))


def test_compress_chain(stages):
    """CompRess 1q / 2q, Reg, Reg-BN and CC from the ClusterFit N_cf as
    the teacher."""
    run_chain(stages, 'compress')


def test_video_table5_chain(stages):
    """Table 5: R(2+1)D-34 N_pre on weak video tags -> ClusterFit
    R(2+1)D-34 -> linear evaluation on Kinetics-400 (frozen backbone),
    through tools/train.py (mmaction2's collate kept, issue 22 item 1)."""
    run_chain(stages, 'video_table5')
    assert labels_of(osp.join(stages.root, work_dir(VIDEO_NCF))).max() < 3
