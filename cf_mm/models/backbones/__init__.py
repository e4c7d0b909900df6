"""Registered backbones."""
from .resnet_with_conv1 import ResNetWithConv1, ResNetWithConv1_CIFAR  # noqa: F401
