"""Test a checkpoint: mmpretrain's ``tools/test.py``, flag for flag, with cf_mm.

As in mmpretrain, ``--out FILE`` dumps the predictions (``--out-item pred``,
the default) or the metrics (``--out-item metrics``); ``--tta``, ``--amp``,
``--show-dir`` work as there.

Examples:
    python tools/test.py configs/benchmarks/linear-res5-avg_resnet50_8xb32-steplr-28e_in1k.py \\
        work_dirs/linear/epoch_28.pth --out metrics.json --out-item metrics
    bash tools/dist_test.sh CONFIG CHECKPOINT 8
"""
from cf_mm.apis import run_mmpretrain_tool

if __name__ == '__main__':
    run_mmpretrain_tool('test')
