"""What an mmpretrain data preprocessor does to a batch, read uniformly."""
import torch.nn as nn


def converts_to_rgb(preprocessor: nn.Module) -> bool:
    """Whether ``preprocessor`` swaps BGR to RGB.

    mmpretrain's preprocessors keep this flag under two names:
    ``ClsDataPreprocessor`` as ``to_rgb``, ``SelfSupDataPreprocessor`` (and
    the other ``SelfSup*`` ones) as ``_channel_conversion``; reading only
    one of them would call every classifier (or every self-supervised model)
    BGR.

    Args:
        preprocessor (nn.Module): The data preprocessor.

    Returns:
        bool: True if it converts the channel order.
    """
    if hasattr(preprocessor, 'to_rgb'):
        return bool(preprocessor.to_rgb)
    return bool(getattr(preprocessor, '_channel_conversion', False))
