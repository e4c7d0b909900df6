# Does the Jigsaw N_pre learn its pretext task? (configs/jigsaw/README.md,
# "CPU check"). Trains configs/jigsaw/jigsaw_resnet18-w16_1xb64-coslr-
# 500i_cifar10.py on the CIFAR-10 train images, then solves fresh puzzles
# cut from held-out test images (the config's val_dataloader, every 5th test
# image; the puzzle randomness seeded with `eval_seed`) and reports the
# permutation accuracy; chance is 1 / num_permutations (1 % for the shipped
# 100). About 17 minutes on 2 loaded CPU cores (500 iterations).
#
#   EXP=configs/experiments/jigsaw_cifar10_check.py
#   python tools/run_experiment.py $EXP
#   python tools/run_experiment.py $EXP --work-dir work_dirs/jigsaw_quick \
#       --cfg-options iters=100 cosine_iters=50
#   # the README's variants: per-tile standardisation, the max_min set, seed 1
#   python tools/run_experiment.py $EXP --work-dir work_dirs/jigsaw_variant \
#       --cfg-options standardize_patches=True seed=1 \
#       permutation_file=cf_mm/data/jigsaw_permutations_2000_max_min.txt

config = 'configs/jigsaw/jigsaw_resnet18-w16_1xb64-coslr-500i_cifar10.py'
data_root = 'data/cifar10'  # unpacked from ../shared/datasets if missing
iters = 500
cosine_iters = 450  # iters - 50 (the config's linear warm-up)
num_workers = 2
seed = 0  # training seed (randomness.seed)
eval_seed = 0  # seed of the held-out puzzles
standardize_patches = False  # per-tile standardisation (README)
permutation_file = None  # None: the shipped max_avg set

# Settings of the config that both stages (train, evaluate) share.
shared_options = {
    'model.standardize_patches': '${standardize_patches}',
    'randomness.seed': '${seed}',
}

stages = [
    dict(
        name='cifar10',
        type='cifar10_subset',
        root='${data_root}',
        num_train_per_class=1,  # the annotation files are unused
        num_test_per_class=1),
    dict(
        name='jigsaw',
        type='train',
        config='${config}',
        options=dict(
            shared_options, **{
                'train_dataloader.dataset.data_root': '${cifar10.data_root}',
                'train_dataloader.dataset.pipeline.4.permutation_file':
                '${permutation_file}',
                'train_dataloader.num_workers': '${num_workers}',
                'train_dataloader.persistent_workers': False,
                'train_cfg.max_iters': '${iters}',
                'train_cfg.val_interval': '${iters}',
                'default_hooks.checkpoint.interval': '${iters}',
                'param_scheduler.1.end': '${iters}',
                'param_scheduler.1.T_max': '${cosine_iters}',
                # Validation runs once, in the next stage, on seeded
                # puzzles (the train loop's would be unseeded).
                'val_dataloader': None,
                'val_evaluator': None,
                'val_cfg': None,
            })),
    dict(
        name='heldout',
        type='evaluate',
        config='${config}',
        checkpoint='${jigsaw.checkpoint}',
        seed='${eval_seed}',
        method='Jigsaw, ${iters} iterations',
        target='held-out puzzles',
        layer='permutation',
        options=dict(
            shared_options, **{
                'val_dataloader.dataset.data_root': '${cifar10.data_root}',
                'val_dataloader.dataset.pipeline.4.permutation_file':
                '${permutation_file}',
                'val_dataloader.num_workers': 0,
            })),
    dict(
        name='report',
        type='report',
        title='Jigsaw on CIFAR-10: held-out permutation accuracy',
        records=['${heldout.records}'],
        notes=('Top-1 / top-5: the predicted permutation index equals the '
               'applied one, on 2000 fresh puzzles from every 5th CIFAR-10 '
               'test image (seed ${eval_seed}); chance 1 / num_permutations '
               '(1 % / 5 % for the shipped 100 permutations). Training: '
               '${iters} iterations of batch 64.')),
]
