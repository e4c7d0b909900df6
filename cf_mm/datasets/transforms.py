"""Small image transforms that mmpretrain and mmcv do not have."""
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS


@TRANSFORMS.register_module()
class GrayToRGB(BaseTransform):
    """Repeat a grey image into three identical channels.

    Lets a network trained on colour images (e.g. CIFAR-10) be evaluated on
    a grey dataset (Fashion-MNIST, MNIST) without changing its first layer.
    mmpretrain's ``MNIST`` datasets give ``(H, W)`` arrays; files loaded with
    ``color_type='grayscale'`` give ``(H, W)`` or ``(H, W, 1)``. Images that
    already have three channels pass through unchanged.

    Required keys: ``img``. Modified keys: ``img``.

    Args:
        num_channels (int): Channels of the output. Defaults to 3.
    """

    def __init__(self, num_channels: int = 3) -> None:
        if num_channels < 1:
            raise ValueError(f'GrayToRGB: num_channels must be >= 1, got '
                             f'{num_channels}')
        self.num_channels = int(num_channels)

    def transform(self, results: dict) -> Optional[dict]:
        img = np.asarray(results['img'])
        if img.ndim == 3 and img.shape[2] == self.num_channels:
            return results
        if img.ndim == 3 and img.shape[2] == 1:
            img = img[..., 0]
        if img.ndim != 2:
            raise ValueError(
                f'GrayToRGB expects an (H, W) or (H, W, 1) image, got shape '
                f'{img.shape}')
        results['img'] = np.repeat(img[..., None], self.num_channels, axis=2)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(num_channels={self.num_channels})'
