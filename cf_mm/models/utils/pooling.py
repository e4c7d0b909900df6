"""Average-pooling sizes for linear probes on intermediate feature maps.

ClusterFit (appendix D), following Goyal et al. 2019, pools every layer of a
ResNet-50 to "about 9,000 dimensions" before its linear classifier. For 224 px
inputs the benchmark used hand-picked kernels:

=======  =============  ================  ==============
layer    feature map    kernel/stride/pad pooled
=======  =============  ================  ==============
conv1    64 x 112^2     10 / 10 / 4       64 x 12 x 12
res2     256 x 56^2     16 / 8 / 0        256 x 6 x 6
res3     512 x 28^2     13 / 5 / 0        512 x 4 x 4
res4     1024 x 14^2    8 / 3 / 0         1024 x 3 x 3
res5     2048 x 7^2     6 / 1 / 0         2048 x 2 x 2
=======  =============  ================  ==============

:func:`probe_pool_params` returns the pooling of that table (kept in
:data:`RESNET50_224_POOLS`) whenever a map has one of its shapes (channels and
side) and the target is 9000 dims, so ResNet-50 at 224 px is pooled exactly as
in the benchmark. Every other map gets the pooling of one rule
(:func:`rule_pool_params`):

1. Output grid side ``s = round(sqrt(target_dims / channels))``, at least 1
   and at most the feature map side. This gives exactly the pooled shapes of
   the table above for ResNet-50 at 224 px.
2. ``stride = side // s`` and ``kernel = side - (s - 1) * stride``, no
   padding: equal windows that tile the whole map (the last window ends on
   the last pixel), so no zero padding dilutes an average and no pixel is
   dropped. ``kernel >= stride``, windows overlap when ``side`` is not a
   multiple of ``s``.

For the ResNet-50/224 shapes the rule's kernels differ from the hand-picked
ones (e.g. res5: 4/3/0 instead of 6/1/0), the pooled shapes and dimensions do
not. This module imports no mm* package; the multi-layer probe head and the
SVM features of the evaluation tools both use it.
"""
import math
from typing import Dict, NamedTuple, Sequence, Tuple, Union

#: Target dimension of a pooled probe feature (ClusterFit appendix D).
DEFAULT_TARGET_DIMS = 9000


class PoolParams(NamedTuple):
    """Average pooling of one feature map: ``nn.AvgPool2d`` arguments.

    Attributes:
        kernel_size (tuple[int, int]): Window (height, width).
        stride (tuple[int, int]): Step (height, width).
        padding (tuple[int, int]): Zero padding (height, width).
        out_size (tuple[int, int]): Pooled (height, width).
    """
    kernel_size: Tuple[int, int]
    stride: Tuple[int, int]
    padding: Tuple[int, int]
    out_size: Tuple[int, int]


#: The hand-picked pooling of Goyal et al. 2019 for ResNet-50 at 224 px.
RESNET50_224_POOLS: Dict[str, dict] = {
    'conv1': dict(kernel_size=10, stride=10, padding=4),
    'res2': dict(kernel_size=16, stride=8, padding=0),
    'res3': dict(kernel_size=13, stride=5, padding=0),
    'res4': dict(kernel_size=8, stride=3, padding=0),
    'res5': dict(kernel_size=6, stride=1, padding=0),
}
#: (channels, height, width) of each ResNet-50 map at 224 px -> layer name.
RESNET50_224_SHAPES: Dict[Tuple[int, int, int], str] = {
    (64, 112, 112): 'conv1',
    (256, 56, 56): 'res2',
    (512, 28, 28): 'res3',
    (1024, 14, 14): 'res4',
    (2048, 7, 7): 'res5',
}


def _pair(value: Union[int, Sequence[int]], name: str) -> Tuple[int, int]:
    if isinstance(value, int):
        return value, value
    if len(value) != 2:
        raise ValueError(f'{name} must be an int or a (height, width) pair, '
                         f'got {value!r}')
    return int(value[0]), int(value[1])


def pooled_side(side: int, kernel: int, stride: int, padding: int) -> int:
    """Output side of an average pooling (floor mode, as ``nn.AvgPool2d``)."""
    return (side + 2 * padding - kernel) // stride + 1


def probe_pool_params(channels: int,
                      size: Union[int, Sequence[int]],
                      target_dims: int = DEFAULT_TARGET_DIMS) -> PoolParams:
    """Pooling that brings a ``channels x size`` map near ``target_dims``.

    The hand-picked pooling of Goyal et al. for a map of ResNet-50 at 224 px
    (:data:`RESNET50_224_POOLS`, with ``target_dims=9000``), else
    :func:`rule_pool_params`.

    Args:
        channels (int): Channels of the feature map.
        size (int | Sequence[int]): Spatial side, or ``(height, width)``.
        target_dims (int): Wanted ``channels * out_h * out_w``.
            Defaults to 9000 (ClusterFit appendix D).

    Returns:
        PoolParams: Kernel, stride and padding per dimension, and the pooled
        spatial size.
    """
    height, width = _pair(size, 'size')
    layer = RESNET50_224_SHAPES.get((channels, height, width))
    if layer is not None and target_dims == DEFAULT_TARGET_DIMS:
        return pool_params_from_cfg(RESNET50_224_POOLS[layer], size)
    return rule_pool_params(channels, size, target_dims)


def rule_pool_params(channels: int,
                     size: Union[int, Sequence[int]],
                     target_dims: int = DEFAULT_TARGET_DIMS) -> PoolParams:
    """The computed pooling rule (module docstring) for any map.

    Args:
        channels (int): Channels of the feature map.
        size (int | Sequence[int]): Spatial side, or ``(height, width)``.
        target_dims (int): Wanted ``channels * out_h * out_w``.

    Returns:
        PoolParams: Equal windows without padding that tile the map.
    """
    if channels < 1:
        raise ValueError(f'channels must be >= 1, got {channels}')
    if target_dims < 1:
        raise ValueError(f'target_dims must be >= 1, got {target_dims}')
    height, width = _pair(size, 'size')
    if height < 1 or width < 1:
        raise ValueError(f'feature map size must be positive, got {size!r}')
    grid = max(1, round(math.sqrt(target_dims / channels)))
    kernels, strides, outs = [], [], []
    for side in (height, width):
        out = min(grid, side)
        stride = side // out
        kernels.append(side - (out - 1) * stride)
        strides.append(stride)
        outs.append(out)
    return PoolParams(
        kernel_size=tuple(kernels),
        stride=tuple(strides),
        padding=(0, 0),
        out_size=tuple(outs))


def pool_params_from_cfg(cfg: dict, size: Union[int,
                                                Sequence[int]]) -> PoolParams:
    """Explicit pooling (``kernel_size``/``stride``/``padding``) as params.

    Args:
        cfg (dict): ``nn.AvgPool2d`` arguments, ints or (h, w) pairs;
            ``stride`` defaults to ``kernel_size``, ``padding`` to 0.
        size (int | Sequence[int]): Spatial side of the input map.

    Returns:
        PoolParams: With the pooled size computed.
    """
    if 'kernel_size' not in cfg:
        raise ValueError(f'pooling config {cfg!r} has no `kernel_size`')
    unknown = set(cfg) - {'kernel_size', 'stride', 'padding'}
    if unknown:
        raise ValueError(f'unknown pooling keys {sorted(unknown)} in {cfg!r}')
    kernel = _pair(cfg['kernel_size'], 'kernel_size')
    stride = _pair(cfg.get('stride', cfg['kernel_size']), 'stride')
    padding = _pair(cfg.get('padding', 0), 'padding')
    sides = _pair(size, 'size')
    outs = tuple(
        pooled_side(s, k, st, p)
        for s, k, st, p in zip(sides, kernel, stride, padding))
    if min(outs) < 1:
        raise ValueError(f'pooling {cfg!r} does not fit a {sides} map')
    return PoolParams(kernel, stride, padding, outs)
