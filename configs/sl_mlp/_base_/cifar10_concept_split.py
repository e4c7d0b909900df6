# Small-scale concept-generalization split on CIFAR-10 (docs/sl_mlp.md):
# pre-D = the 6 animal classes, eval-D = the 4 vehicle classes (disjoint
# concepts, a large semantic gap as between the paper's organisms and
# instrumentality). Images are the CIFAR-10 JPEGs under data/cifar10
# (train/<class>/, test/<class>/); the annotation files (`<class>/<file>
# <label>`, labels in the order below) are written by the `cifar10_subset`
# stage of configs/experiments/sl_mlp_cifar10.py, which passes their paths;
# the defaults below are where to put them for a standalone run.
# Network: the 3-channel narrow CIFAR ResNet-18 of the reproduction configs
# (res5 = 128-d). Every name starts with `concept_`.
concept_pre_d_classes = ['bird', 'cat', 'deer', 'dog', 'frog', 'horse']
concept_eval_d_classes = ['airplane', 'automobile', 'ship', 'truck']
concept_root = 'data/cifar10'
concept_pre_d_train_ann = 'meta/sl_mlp_pre_d_train.txt'
concept_pre_d_test_ann = 'meta/sl_mlp_pre_d_test.txt'
concept_eval_d_test_ann = 'meta/sl_mlp_eval_d_test.txt'
concept_feature_dim = 128
# The SL-MLP projector scaled to the 128-d feature with the paper's ratios
# (2048 -> 4096 -> 256, i.e. hidden 2x, output 1/8).
concept_projector = dict(
    type='NonLinearNeck',
    in_channels=concept_feature_dim,
    hid_channels=2 * concept_feature_dim,
    out_channels=concept_feature_dim // 8,
    num_layers=2,
    with_bias=True,
    with_last_bn=False,
    with_last_bias=True,
    with_avg_pool=True,
    norm_cfg=dict(type='BN1d'))
