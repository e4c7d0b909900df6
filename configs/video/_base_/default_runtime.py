# mmaction2 1.1.0's `_base_/default_runtime.py`, copied: mmengine 0.10.7
# cannot resolve `mmaction::` bases of the PyPI mmaction2 1.1.0 package (its
# model-index parse fails with "'list' object has no attribute 'partition'").
# Added: `check_files`, every missing / 0-byte / unreadable file of the
# annotation lists in one error before any work (cf_mm.video.checks).
default_scope = 'mmaction'
custom_imports = dict(imports=['cf_mm', 'cf_mm.video'],
                      allow_failed_imports=False)

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, save_best='auto'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    sync_buffers=dict(type='SyncBuffersHook'),
    check_files=dict(type='CheckVideoFilesHook'))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
