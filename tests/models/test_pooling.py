"""Pooling rule of the multi-layer probe."""
import pytest
import torch
import torch.nn as nn

from cf_mm.models.utils.pooling import (RESNET50_224_POOLS,
                                        pool_params_from_cfg, pooled_side,
                                        probe_pool_params, rule_pool_params)

# ResNet-50 at 224 px: (layer, channels, side) and the paper's pooled grid.
RESNET50_224 = [('conv1', 64, 112, 12), ('res2', 256, 56, 6),
                ('res3', 512, 28, 4), ('res4', 1024, 14, 3),
                ('res5', 2048, 7, 2)]


# The benchmark's kernel/stride/padding, written out (Goyal et al. 2019).
HAND_PICKED = dict(conv1=(10, 10, 4), res2=(16, 8, 0), res3=(13, 5, 0),
                   res4=(8, 3, 0), res5=(6, 1, 0))


@pytest.mark.parametrize('layer,channels,side,grid', RESNET50_224)
def test_resnet50_224_shapes_get_the_hand_picked_table(layer, channels,
                                                       side, grid):
    params = probe_pool_params(channels, side, target_dims=9000)
    kernel, stride, padding = HAND_PICKED[layer]
    assert params.kernel_size == (kernel, kernel)
    assert params.stride == (stride, stride)
    assert params.padding == (padding, padding)
    assert params.out_size == (grid, grid)
    # nn.AvgPool2d agrees with the computed output size.
    pooled = nn.AvgPool2d(params.kernel_size, params.stride,
                          params.padding)(torch.zeros(1, channels, side, side))
    assert pooled.shape[-2:] == (grid, grid)
    # The rule gives the same grid with its own kernels; another target or
    # another shape is not taken from the table.
    assert rule_pool_params(channels, side, 9000).out_size == (grid, grid)
    assert probe_pool_params(channels, side, 8000).padding == (0, 0)
    assert probe_pool_params(channels + 1, side, 9000) == rule_pool_params(
        channels + 1, side, 9000)
    assert RESNET50_224_POOLS[layer] == dict(kernel_size=kernel,
                                             stride=stride, padding=padding)


@pytest.mark.parametrize('channels', [1, 3, 16, 64, 100, 512, 4096, 20000])
@pytest.mark.parametrize('side', [1, 2, 5, 7, 13, 28, 32, 56, 97, 112])
def test_rule_windows_tile_the_map(channels, side):
    """Stated rule: s = round(sqrt(T/C)) clipped to [1, side]; equal windows
    without padding covering the map exactly, kernel >= stride."""
    target = 9000
    params = rule_pool_params(channels, (side, side), target)
    expected = min(side, max(1, round((target / channels)**0.5)))
    assert params.out_size == (expected, expected)
    kernel, stride = params.kernel_size[0], params.stride[0]
    assert params.padding == (0, 0)
    assert kernel >= stride >= 1
    assert kernel + (expected - 1) * stride == side  # last window ends on edge
    assert pooled_side(side, kernel, stride, 0) == expected
    pooled = nn.AvgPool2d(kernel, stride)(torch.zeros(1, 1, side, side))
    assert pooled.shape[-2:] == (expected, expected)


def test_rule_non_square():
    params = probe_pool_params(256, (10, 40), target_dims=256 * 16)
    assert params.out_size == (4, 4)
    assert nn.AvgPool2d(params.kernel_size, params.stride)(
        torch.zeros(1, 256, 10, 40)).shape[-2:] == (4, 4)


def test_bad_inputs():
    with pytest.raises(ValueError, match='channels'):
        probe_pool_params(0, 7)
    with pytest.raises(ValueError, match='kernel_size'):
        pool_params_from_cfg(dict(stride=2), 7)
    with pytest.raises(ValueError, match='does not fit'):
        pool_params_from_cfg(dict(kernel_size=9), 7)
    with pytest.raises(ValueError, match='unknown pooling keys'):
        pool_params_from_cfg(dict(kernel_size=2, dilation=2), 7)
