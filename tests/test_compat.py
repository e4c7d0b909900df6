"""mmengine checkpoints load on torch >= 2.6 with weights_only left on."""
import os
import pickle

import pytest
import torch
from mmengine.runner import load_checkpoint
from mmpretrain.registry import MODELS

import cf_mm  # noqa: F401
from cf_mm.apis import load_config, train
from tests.conftest import ROTNET_CFG, tiny_options


def test_runner_checkpoint_loads_with_weights_only(rotnet_checkpoint):
    ckpt = torch.load(rotnet_checkpoint, map_location='cpu',
                      weights_only=True)
    assert {'state_dict', 'message_hub', 'meta', 'optimizer'} <= set(ckpt)


class _Exploit:

    def __reduce__(self):
        return (os.system, ('echo pwned',))


def test_arbitrary_pickled_code_is_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    with open(path, 'wb') as f:
        pickle.dump({'state_dict': {}, 'x': _Exploit()}, f)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)


def test_resume_load_from_and_pretrained_init(fmnist_root, rotnet_checkpoint,
                                              tmp_path):
    # resume: continue the fixture's run for a second epoch.
    cfg = load_config(ROTNET_CFG, work_dir=str(tmp_path / 'resume'),
                      resume=rotnet_checkpoint,
                      cfg_options=tiny_options(fmnist_root, epochs=2))
    runner = train(cfg)
    assert runner.epoch == 2
    # load_from: weights only, a fresh schedule.
    cfg = load_config(ROTNET_CFG, work_dir=str(tmp_path / 'load'),
                      load_from=rotnet_checkpoint,
                      cfg_options=tiny_options(fmnist_root, epochs=1))
    train(cfg)
    # init_cfg=Pretrained with a prefix, as linear evaluation uses it.
    from mmengine.config import Config
    model_cfg = Config.fromfile(ROTNET_CFG).model
    backbone = dict(model_cfg.backbone)
    backbone['init_cfg'] = dict(type='Pretrained',
                                checkpoint=rotnet_checkpoint,
                                prefix='backbone.')
    model = MODELS.build(backbone)
    model.init_weights()
    state = torch.load(rotnet_checkpoint, weights_only=True)['state_dict']
    torch.testing.assert_close(model.conv1.weight,
                               state['backbone.conv1.weight'])
    full = MODELS.build(model_cfg)
    load_checkpoint(full, rotnet_checkpoint, map_location='cpu', strict=True)


class _Walk:
    """Pickles as getattr(<allowed object>, '__class__'): the first step of a
    walk from allowed objects to arbitrary code that a real getattr opens."""

    def __reduce__(self):
        from collections import OrderedDict
        return (getattr, (OrderedDict(), '__class__'))


def test_getattr_is_only_allowed_on_history_buffers(tmp_path):
    path = tmp_path / 'walk.pth'
    torch.save({'x': _Walk()}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
