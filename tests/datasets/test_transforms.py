"""GrayToRGB: grey images as 3-channel input for RGB networks."""
import numpy as np
import pytest

from cf_mm.datasets.transforms import GrayToRGB


def test_gray_to_rgb_repeats_channels():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = GrayToRGB()(dict(img=gray))['img']
    assert out.shape == (3, 4, 3)
    for channel in range(3):
        np.testing.assert_array_equal(out[..., channel], gray)
    rgb = np.zeros((3, 4, 3), np.uint8)
    assert GrayToRGB()(dict(img=rgb))['img'] is rgb
    with pytest.raises(ValueError, match='shape'):
        GrayToRGB()(dict(img=np.zeros((2, 3, 4, 5), np.uint8)))
