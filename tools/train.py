"""Train a model: mmpretrain's ``tools/train.py``, flag for flag, with cf_mm.

cf_mm is imported first (its components registered, its checkpoint types
allow-listed, known-harmless import warnings silenced); then mmpretrain's own
tool runs. ``pin_memory`` is off where no accelerator exists.

Examples:
    python tools/train.py configs/clusterfit_rotnet.py
    python tools/train.py CONFIG --resume            # latest checkpoint
    python tools/train.py CONFIG --auto-scale-lr --amp
    bash tools/dist_train.sh CONFIG 8                # 8 GPUs
    python tools/train.py --help                     # mmpretrain's flags
"""
from cf_mm.apis import run_mmpretrain_tool

if __name__ == '__main__':
    run_mmpretrain_tool('train')
