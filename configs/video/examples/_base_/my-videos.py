# Your own videos in mmaction2's layout (Kinetics-style lists), shared by
# the example configs (docs/video.md, "Your own videos"):
#   data/my_videos/<any folders>/*.mp4   videos of any size and aspect
#   data/my_videos/train_tags.txt  `<file> <tag> [<tag> ...]`: weak tags of
#                                  the pre-training videos (N_pre; N_cf
#                                  ignores them)
#   data/my_videos/train_list.txt  `<file> <class>`: labelled videos of the
#                                  target task (probes: training)
#   data/my_videos/val_list.txt    `<file> <class>`: its test videos
# (paths in the lists relative to data/my_videos, as Kinetics' lists).
# Set the two counts below to yours. Names are prefixed `my_videos_`
# because this file is a second `_base_` beside a video config, and
# mmengine refuses one key in two sibling bases. The datasets carry no
# pipeline: each config attaches its own (`pipeline=...`), the paper's
# short edge 128 and 112 crop from the config it inherits.
my_videos_root = 'data/my_videos'
my_videos_num_tags = 14  # distinct tags in train_tags.txt (ids 0 .. n-1)
my_videos_num_classes = 10  # classes of train_list.txt / val_list.txt

# N_pre's labels: one tag per video picked at random, seeded (appendix C);
# N_cf wraps the same dataset.
my_videos_tags = dict(
    type='RandomTagVideoDataset',
    ann_file=f'{my_videos_root}/train_tags.txt',
    data_prefix=dict(video=my_videos_root),
    num_classes=my_videos_num_tags,
    seed=0)
my_videos_train = dict(
    type='VideoDataset',
    ann_file=f'{my_videos_root}/train_list.txt',
    data_prefix=dict(video=my_videos_root))
my_videos_val = dict(
    type='VideoDataset',
    ann_file=f'{my_videos_root}/val_list.txt',
    data_prefix=dict(video=my_videos_root),
    test_mode=True)
