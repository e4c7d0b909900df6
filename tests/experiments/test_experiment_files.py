"""Every experiment file loads (stage types and parameters checked); the
Jigsaw CIFAR-10 check declares what ``tools/jigsaw_cifar10_check.py`` did;
the ``evaluate`` stage gives the accuracy a plain loop computes."""
import glob
import os.path as osp

import numpy as np
import pytest
import torch

from cf_mm.experiments import load_experiment

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EXPERIMENTS = sorted(glob.glob(osp.join(REPO, 'configs', 'experiments',
                                        '*.py')))
JIGSAW = osp.join(REPO, 'configs', 'experiments', 'jigsaw_cifar10_check.py')
LINEAR_CFG = osp.join(REPO, 'configs', 'demo',
                      'linear-res5_resnet18-w16_1xb128-coslr-3e_fmnist.py')


def test_there_are_experiment_files():
    assert JIGSAW in EXPERIMENTS and len(EXPERIMENTS) >= 5


@pytest.mark.parametrize('path', EXPERIMENTS,
                         ids=[osp.basename(p) for p in EXPERIMENTS])
def test_experiment_file_loads(path, tmp_path):
    exp = load_experiment(path, work_dir=str(tmp_path))
    assert exp.stages and exp.stages[-1].type.endswith('report')
    names = [s.name for s in exp.stages]
    assert len(set(names)) == len(names)


def test_jigsaw_check_declares_train_then_seeded_heldout_eval(tmp_path):
    mm = 'cf_mm/data/jigsaw_permutations_2000_max_min.txt'
    exp = load_experiment(JIGSAW, dict(iters=100, cosine_iters=50, seed=1,
                                       eval_seed=3, permutation_file=mm,
                                       standardize_patches=True),
                          str(tmp_path))
    stages = {s.name: s for s in exp.stages}
    assert [s.type for s in exp.stages] == [
        'cifar10_subset', 'train', 'evaluate', 'report']
    train = stages['jigsaw'].params['options']
    assert {k: train[k] for k in (
        'train_cfg.max_iters', 'train_cfg.val_interval',
        'default_hooks.checkpoint.interval', 'param_scheduler.1.end',
        'param_scheduler.1.T_max', 'randomness.seed',
        'model.standardize_patches')} == {
            'train_cfg.max_iters': 100, 'train_cfg.val_interval': 100,
            'default_hooks.checkpoint.interval': 100,
            'param_scheduler.1.end': 100, 'param_scheduler.1.T_max': 50,
            'randomness.seed': 1, 'model.standardize_patches': True}
    # Training does not validate (unseeded puzzles); the next stage does.
    assert train['val_dataloader'] is None and train['val_cfg'] is None
    assert train['train_dataloader.dataset.pipeline.4.permutation_file'] \
        == mm
    heldout = stages['heldout'].params
    assert heldout['checkpoint'] == '${jigsaw.checkpoint}'
    assert heldout['seed'] == 3
    assert heldout['config'] == stages['jigsaw'].params['config']
    options = heldout['options']
    assert options['val_dataloader.num_workers'] == 0
    assert options['val_dataloader.dataset.pipeline.4.permutation_file'] \
        == mm
    assert options['model.standardize_patches'] is True
    assert stages['report'].params['records'] == ['${heldout.records}']
    # The config it trains: its pipeline's 5th transform is the puzzle.
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, stages['jigsaw'].params['config']))
    assert cfg.train_dataloader.dataset.pipeline[4].type == 'JigsawPuzzle'
    assert cfg.val_dataloader.dataset.pipeline[4].type == 'JigsawPuzzle'


def test_evaluate_stage_accuracy_equals_a_plain_loop(fmnist_root, tmp_path):
    from mmengine.config import Config
    from mmengine.dataset import default_collate
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import DATASETS, MODELS

    from cf_mm.experiments.runner import StageContext
    from cf_mm.experiments.stages.training import evaluate_stage

    init_default_scope('mmpretrain')
    cfg = Config.fromfile(LINEAR_CFG)
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    checkpoint = str(tmp_path / 'random.pth')
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    options = {'model.backbone.init_cfg': None,
               'val_dataloader.dataset.data_prefix': fmnist_root,
               'val_dataloader.dataset.indices': 300,
               'val_dataloader.num_workers': 0}
    ctx = StageContext('ev', str(tmp_path / 'ev'), str(tmp_path))
    (tmp_path / 'ev').mkdir()
    out = evaluate_stage(ctx, LINEAR_CFG, checkpoint, method='random',
                         target='fmnist', options=options, layer='res5',
                         tags=dict(seed=0))

    dataset = DATASETS.build(dict(cfg.val_dataloader.dataset,
                                  data_prefix=fmnist_root, indices=300))
    model.eval()
    correct = []
    with torch.no_grad():
        for start in range(0, len(dataset), 64):
            batch = default_collate([dataset[i] for i in range(
                start, min(start + 64, len(dataset)))])
            data = model.data_preprocessor(batch, False)
            scores = model(data['inputs'], mode='tensor')
            truth = np.array([int(s.gt_label) for s in
                              data['data_samples']])
            correct += list(scores.argmax(1).numpy() == truth)
    top1 = 100.0 * np.mean(correct)
    assert 0 < top1 < 100
    assert out['metrics']['accuracy/top1'] == pytest.approx(top1, abs=1e-4)
    from cf_mm.evaluation.report import load_records
    records = {r['metric']: r for r in load_records(out['records'])}
    assert records['top1']['value'] == pytest.approx(top1, abs=1e-4)
    assert records['top1']['layer'] == 'res5'
    assert records['top1']['method'] == 'random'
    assert records['top1']['seed'] == 0
    with pytest.raises(FileNotFoundError, match='checkpoint not found'):
        evaluate_stage(ctx, LINEAR_CFG, str(tmp_path / 'no.pth'),
                       method='x', target='y')
