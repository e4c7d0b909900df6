"""Every paper-scale config is in a chain of ``test_chains.py`` (fast; the
chains themselves are slow): a new or renamed ImageNet / IG / Places /
Kinetics config must be added to a chain, or to :data:`NOT_REHEARSED` with
the reason."""
import glob
import os.path as osp

from tests.conftest import REPO
from tests.paper_scale.test_chains import CHAINS

#: Config name parts of the datasets that exist only at paper scale.
PAPER_SCALE = ('_in1k', '_tags.py', 'places205', 'ig-verb', 'kinetics400')
ENTRY_POINTS = ('configs/clusterfit_rotnet.py',
                'configs/clusterfit_multitask_jigsaw_rotnet.py')
#: Paper-scale configs no chain trains, and why.
NOT_REHEARSED = {
    'configs/clusterfit/clusterfit-rotnet-k16000_resnet50_8xb32-steplr-105e_'
    'in1k.py': 'trained as configs/clusterfit_rotnet.py, which is this '
    'config and nothing else',
    'configs/clusterfit/clusterfit-multitask-jigsaw-rotnet-k16000_resnet50_'
    '8xb32-steplr-105e_in1k.py': 'trained as '
    'configs/clusterfit_multitask_jigsaw_rotnet.py, which is this config '
    'and nothing else',
    'configs/video/multilabel_r2plus1d-r18_128xb6-steplr-26e_ig-verb-19m.py':
    'Figure 5 capacity pair: the Table-5 chain with depth 18',
    'configs/video/randomtag_r2plus1d-r18_128xb6-steplr-26e_ig-verb-19m.py':
    'Figure 5 capacity pair: the Table-5 chain with depth 18',
    'configs/video/multilabel_r2plus1d-r34_128xb6-steplr-26e_ig-verb-19m.py':
    'the named multi-label variant of the Table-5 N_pre (the chain trains '
    'the default, one random tag per video)',
    'configs/video/clusterfit-prototype-r2plus1d-r34-k438_r2plus1d-r34_'
    '128xb6-steplr-26e_ig-verb-19m.py': 'Table-5 baseline: one step at '
    'paper scale in tests/video/test_baselines.py (slow)',
    'configs/video/distillation-r2plus1d-r34_r2plus1d-r34_128xb6-steplr-'
    '26e_ig-verb-19m.py': 'Table-5 baseline: one step at paper scale in '
    'tests/video/test_baselines.py (slow)',
    'configs/video/clusterfit-r2plus1d-r18-k3200_r2plus1d-r18-8f_64xb16-'
    'steplr-4e_ig-verb-62m.py':
    'Figure 5 capacity pair: the Table-5 chain with depth 18',
    'configs/video/clusterfit-r2plus1d-r34-k3200_r2plus1d-r18-8f_64xb16-'
    'steplr-4e_ig-verb-62m.py':
    'Figure 5 capacity pair: the Table-5 N_cf with an R(2+1)D-18 student',
    'configs/video/clusterfit-perlabel-r2plus1d-r34-k3200_r2plus1d-r18-8f_'
    '64xb16-steplr-4e_ig-verb-62m.py':
    'Figure 6: the Table-5 chain with method=per_label',
    **{f'configs/clusterfit/clusterfit-rotnet-k{k}-labelfile_resnet50_8xb32-'
       'steplr-105e_in1k.py': 'Table 7 one N_cf per K: reads the label '
       'files of tools/extract_features.py + tools/cluster.py -k '
       '1000,4000,16000 (its header), which the chains (tools/train.py '
       'only) do not run; the same N_cf with a hook is the rotnet chain'
       for k in (1000, 4000, 16000)},
}


def paper_scale_configs() -> set:
    found = set(ENTRY_POINTS)
    for path in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                          recursive=True):
        rel = osp.relpath(path, REPO)
        if '_base_' not in rel and any(part in rel for part in PAPER_SCALE):
            found.add(rel)
    return found


def test_every_paper_scale_config_is_rehearsed():
    chained = {config for stages in CHAINS.values() for config, _ in stages}
    configs = paper_scale_configs()
    assert not chained - configs, 'chains name configs that do not exist'
    missing = sorted(configs - chained - set(NOT_REHEARSED))
    assert not missing, f'paper-scale configs in no chain: {missing}'
    assert set(NOT_REHEARSED) <= configs
