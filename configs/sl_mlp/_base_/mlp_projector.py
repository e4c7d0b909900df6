# The MLP projector of SL-MLP (Wang et al. 2022, section 4.1), as mmpretrain's
# NonLinearNeck: global average pooling of res5 (the feature f, 2048-d for
# ResNet-50), then g(f) = fc2(ReLU(BN(fc1(f)))) with fc1 2048 -> 4096 and
# fc2 4096 -> 256. "Following Byol": both fc layers have a bias (BYOL's MLP,
# and mmpretrain's BYOL neck, `with_bias=True`); no BN after fc2
# (`with_last_bn=False`: the formula ends with fc2). The bias of fc2 is kept
# (`with_last_bias=True`, a plain fc layer); before a linear classifier it
# changes nothing the classifier's own bias could not do. Plain BN1d (the
# input is (N, C)), not the neck's default SyncBN: the backbone uses BN too,
# and SyncBN fails in a single, non-distributed process.
# Classifier: `LinearClsHead(in_channels=sl_mlp_out_channels)`. At transfer
# the projector is discarded: probes and extraction load only `backbone.`.
# Every name starts with `sl_mlp_` so that this file can be a second base.
sl_mlp_out_channels = 256
sl_mlp_projector = dict(
    type='NonLinearNeck',
    in_channels=2048,
    hid_channels=4096,
    out_channels=sl_mlp_out_channels,
    num_layers=2,
    with_bias=True,
    with_last_bn=False,
    with_last_bias=True,
    with_avg_pool=True,
    norm_cfg=dict(type='BN1d'))
