"""Tools check what they need before any work (issue 23, item 6), and a
run's ``last_checkpoint`` stands for its checkpoint (item 5)."""
import argparse
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

from cf_mm.apis import load_config, train
from cf_mm.engine.checkpoint import load_from_last_checkpoint
from cf_mm.evaluation import inputs
from cf_mm.features.extract import build_extraction_model
from cf_mm.utils.checkpoint import resolve_checkpoint
from tests.conftest import CLUSTERFIT_CFG, ROTNET_CFG, tiny_options


# ------------------------------------------------------------------ item 6
def test_an_ncf_config_tests_without_its_n_pre(fmnist_root, tmp_path):
    """tools/test.py builds every hook; ClusterFitHook reads N_pre's files
    only when training starts, so testing N_cf needs no N_pre."""
    cfg_file = tmp_path / 'ncf_with_test_set.py'
    cfg_file.write_text(
        f'_base_ = [{CLUSTERFIT_CFG!r}]\n'
        'test_dataloader = dict(batch_size=32, num_workers=0, '
        "sampler=dict(type='DefaultSampler', shuffle=False), dataset=dict("
        "type='FashionMNIST', data_prefix=%r, test_mode=True, indices=40, "
        'pipeline=_base_.test_pipeline))\n'
        "test_evaluator = dict(type='Accuracy', topk=(1, ))\n"
        'test_cfg = dict()\n' % fmnist_root)
    missing = str(tmp_path / 'no_such_npre.pth')
    cfg = Config.fromfile(str(cfg_file))
    cfg.merge_from_dict({'custom_hooks.0.pretrained_checkpoint': missing,
                         'work_dir': str(tmp_path / 'test')})
    metrics = Runner.from_cfg(cfg).test()
    assert 0 <= metrics['accuracy/top1'] <= 100

    # Training still stops first thing, naming the file.
    options = tiny_options(fmnist_root, wrapped=True)
    options['custom_hooks.0.pretrained_checkpoint'] = missing
    with pytest.raises(FileNotFoundError, match='pretrained_checkpoint not '
                       f'found: {missing}'):
        train(load_config(CLUSTERFIT_CFG, work_dir=str(tmp_path / 'train'),
                          cfg_options=options))
    assert not osp.exists(tmp_path / 'train' / 'clusterfit' / 'default' /
                          'features')


def test_eval_tool_checks_every_split_before_extracting(
        monkeypatch, rotnet_checkpoint):
    """The RotNet training config has no test_dataloader: the tool says
    so before extracting the train split (and in one line: ValueError)."""
    parser = argparse.ArgumentParser()
    inputs.add_input_args(parser)
    args = parser.parse_args(['--config', ROTNET_CFG, '--checkpoint',
                              rotnet_checkpoint])

    def no_extraction(*_args, **_kwargs):
        raise AssertionError('features extracted before the check')

    monkeypatch.setattr(inputs, 'extract_view_features', no_extraction)
    with pytest.raises(ValueError, match='has no `test_dataloader`'):
        inputs.load_inputs(args)


# ------------------------------------------------------------------ item 5
def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_resolve_last_checkpoint_rules(tmp_path):
    work = tmp_path / 'work'
    ckpt = _write(work / 'epoch_3.pth', 'x')
    pointer = work / 'last_checkpoint'
    _write(pointer, ckpt + '\n')  # mmengine writes the absolute path
    assert resolve_checkpoint(str(pointer)) == ckpt
    _write(pointer, 'epoch_3.pth')
    assert resolve_checkpoint(str(pointer)) == str(work / 'epoch_3.pth')
    # A moved work dir: the recorded path is gone, the file is here.
    _write(pointer, '/elsewhere/work/epoch_3.pth')
    assert resolve_checkpoint(str(pointer)) == str(work / 'epoch_3.pth')
    _write(pointer, '/elsewhere/work/epoch_9.pth')
    with pytest.raises(FileNotFoundError, match='epoch_9.pth, which does '
                       'not exist'):
        resolve_checkpoint(str(pointer))
    _write(pointer, '')
    with pytest.raises(ValueError, match='is empty'):
        resolve_checkpoint(str(pointer))
    with pytest.raises(FileNotFoundError, match='has saved no checkpoint'):
        resolve_checkpoint(str(tmp_path / 'untrained' / 'last_checkpoint'))
    assert resolve_checkpoint(ckpt) == ckpt


def test_mmengine_loads_a_last_checkpoint_file(rotnet_checkpoint):
    """init_cfg Pretrained, load_from, the teachers and the extraction
    tools all load through mmengine's CheckpointLoader."""
    pointer = osp.join(osp.dirname(rotnet_checkpoint), 'last_checkpoint')
    with open(pointer) as f:
        assert osp.samefile(f.read().strip(), rotnet_checkpoint)
    loader = CheckpointLoader._get_checkpoint_loader
    assert loader(pointer) is load_from_last_checkpoint
    assert loader('work_dirs/x/last_checkpoint') is load_from_last_checkpoint
    for url in ('s3://bucket/work/last_checkpoint',
                'https://host/work/last_checkpoint', 'epoch_1.pth',
                'work_dirs/x/last_checkpoint.bak'):
        assert loader(url) is not load_from_last_checkpoint, url
    via_pointer = _load_checkpoint(pointer, map_location='cpu')['state_dict']
    direct = torch.load(rotnet_checkpoint, map_location='cpu')['state_dict']
    assert via_pointer.keys() == direct.keys()
    for key, value in direct.items():
        assert torch.equal(via_pointer[key], value), key
    model = build_extraction_model(ROTNET_CFG, pointer)
    for key, value in model.state_dict().items():
        assert torch.equal(value, direct[key]), key
