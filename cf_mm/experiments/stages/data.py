"""Stages that prepare data: CIFAR-10 class subsets, Fashion-MNIST.

* ``cifar10_subset``: unpacks the CIFAR-10 JPEG tar if needed and writes
  annotation files (``<path> <label>`` lines, mmpretrain's
  ``CustomDataset`` format) for chosen classes and images per class ->
  ``data_root``, ``train_ann``, ``test_ann``, ``classes``.
* ``fashion_mnist``: unpacks Debian's Fashion-MNIST -> ``data_root``.
* ``fashion_mnist_subset``: Fashion-MNIST written once as 32x32 RGB PNG
  class folders (so that the CIFAR-10 configs read it unchanged), and
  annotation files of chosen classes -> like ``cifar10_subset``.
* ``noisy_labels``: the labels a ``NoisyLabelDataset`` serves (same noise,
  same seed) as a ``.npy`` file, for the label-using clustering baselines
  of a noisy N_pre -> ``labels``.
"""
import os
import os.path as osp
import tarfile
from typing import List, Optional, Sequence

import numpy as np

from ..registry import STAGES

CIFAR10_CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog',
                   'frog', 'horse', 'ship', 'truck')
CIFAR10_TAR = osp.join('..', 'shared', 'datasets', 'cifar10-jpg.tar.gz')
FMNIST_CLASSES = ('t-shirt', 'trouser', 'pullover', 'dress', 'coat',
                  'sandal', 'shirt', 'sneaker', 'bag', 'ankle-boot')
_IDX = dict(train=('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
            test=('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'))


def unpack_cifar10(root: str, tar_path: str) -> None:
    """Unpack the CIFAR-10 JPEG tar into ``root`` unless already there."""
    if all(osp.isdir(osp.join(root, split)) for split in ('train', 'test')):
        return
    if not osp.isfile(tar_path):
        raise FileNotFoundError(
            f'CIFAR-10 not found: {root} has no train/ and test/, and the '
            f'tar {tar_path} does not exist')
    os.makedirs(root, exist_ok=True)
    with tarfile.open(tar_path) as tar:
        tar.extractall(root, filter='data')


def class_subset_lines(split_dir: str, classes: Sequence[str],
                       per_class: Optional[int]) -> List[str]:
    """``<class>/<file> <label>`` lines: every ``n // per_class``-th image
    of each class folder (sorted), labels in the order of ``classes``."""
    lines = []
    for label, cls in enumerate(classes):
        folder = osp.join(split_dir, cls)
        if not osp.isdir(folder):
            raise FileNotFoundError(f'class folder not found: {folder}')
        files = sorted(os.listdir(folder))
        if per_class is not None:
            if not 0 < per_class <= len(files):
                raise ValueError(f'{folder} has {len(files)} images; cannot '
                                 f'take {per_class}')
            files = files[::len(files) // per_class][:per_class]
        lines += [f'{cls}/{name} {label}\n' for name in files]
    return lines


@STAGES.register_module('cifar10_subset')
def cifar10_subset_stage(ctx,
                         classes: Sequence[str] = CIFAR10_CLASSES,
                         num_train_per_class: Optional[int] = None,
                         num_test_per_class: Optional[int] = None,
                         root: str = osp.join('data', 'cifar10'),
                         tar: str = CIFAR10_TAR) -> dict:
    """Annotation files of a class-balanced CIFAR-10 subset.

    Args:
        ctx (StageContext): The stage's context.
        classes (Sequence[str]): Class folder names; label ``i`` is
            ``classes[i]``.
        num_train_per_class (int, optional): Train images per class (every
            ``5000 // n``-th); None takes all.
        num_test_per_class (int, optional): Test images per class.
        root (str): Where the JPEG folders are (or are unpacked to).
        tar (str): The CIFAR-10 JPEG tar.

    Returns:
        dict: ``data_root``, ``train_ann``, ``test_ann`` (absolute paths),
        ``classes``, ``num_train``, ``num_test``.
    """
    unknown = [c for c in classes if c not in CIFAR10_CLASSES]
    if unknown:
        raise ValueError(f'unknown CIFAR-10 classes {unknown}; the classes '
                         f'are {list(CIFAR10_CLASSES)}')
    unpack_cifar10(root, tar)
    return _write_subset(ctx, root, classes, num_train_per_class,
                         num_test_per_class)


def _read_idx(path: str, header: int) -> np.ndarray:
    with open(path, 'rb') as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header)


def export_fashion_mnist_png32(idx_root: str, root: str) -> None:
    """Write Fashion-MNIST as ``<root>/<split>/<class>/<index>.png``: each
    image resized to 32x32 (bilinear) and repeated into 3 channels, as the
    CIFAR-10 networks take it. Idempotent: a finished export (its marker
    file) is kept; a partial one is redone."""
    from PIL import Image
    marker = osp.join(root, 'complete')
    if osp.isfile(marker):
        return
    for split, (images_file, labels_file) in _IDX.items():
        images = _read_idx(osp.join(idx_root, images_file), 16)
        labels = _read_idx(osp.join(idx_root, labels_file), 8)
        images = images.reshape(len(labels), 28, 28)
        for cls in FMNIST_CLASSES:
            os.makedirs(osp.join(root, split, cls), exist_ok=True)
        for index, (image, label) in enumerate(zip(images, labels)):
            img = Image.fromarray(image).resize((32, 32), Image.BILINEAR)
            img.convert('RGB').save(osp.join(
                root, split, FMNIST_CLASSES[label], f'{index:05d}.png'))
    with open(marker, 'w') as f:
        f.write('32x32 RGB PNG export of Fashion-MNIST\n')


@STAGES.register_module('fashion_mnist_subset')
def fashion_mnist_subset_stage(ctx,
                               classes: Sequence[str] = FMNIST_CLASSES,
                               num_train_per_class: Optional[int] = None,
                               num_test_per_class: Optional[int] = None,
                               root: str = osp.join('data',
                                                    'fashion_mnist_png32'),
                               idx_root: str = osp.join('data',
                                                        'fashion_mnist'),
                               src: Optional[str] = None) -> dict:
    """Annotation files of a class-balanced Fashion-MNIST subset, read as
    32x32 RGB PNG class folders (the CIFAR-10 configs' layout).

    Args:
        ctx (StageContext): The stage's context.
        classes (Sequence[str]): Class names (of ``FMNIST_CLASSES``); label
            ``i`` is ``classes[i]``.
        num_train_per_class (int, optional): Train images per class (every
            ``6000 // n``-th of the class); None takes all.
        num_test_per_class (int, optional): Test images per class.
        root (str): Where the PNG folders are (or are written to).
        idx_root (str): The unpacked IDX files (written there from Debian's
            package if missing).
        src (str, optional): Folder of the gzipped IDX files.

    Returns:
        dict: ``data_root``, ``train_ann``, ``test_ann``, ``classes``,
        ``num_train``, ``num_test``.
    """
    from cf_mm.datasets.fashion_mnist import (DEBIAN_DIR,
                                              prepare_fashion_mnist)
    unknown = [c for c in classes if c not in FMNIST_CLASSES]
    if unknown:
        raise ValueError(f'unknown Fashion-MNIST classes {unknown}; the '
                         f'classes are {list(FMNIST_CLASSES)}')
    prepare_fashion_mnist(src or DEBIAN_DIR, idx_root)
    export_fashion_mnist_png32(idx_root, root)
    return _write_subset(ctx, root, classes, num_train_per_class,
                         num_test_per_class)


def _write_subset(ctx, root: str, classes: Sequence[str],
                  num_train_per_class: Optional[int],
                  num_test_per_class: Optional[int]) -> dict:
    outputs = dict(data_root=osp.abspath(root), classes=list(classes))
    for split, per_class in (('train', num_train_per_class),
                             ('test', num_test_per_class)):
        lines = class_subset_lines(osp.join(root, split), classes, per_class)
        path = ctx.path(f'{split}.txt')
        with open(path, 'w') as f:
            f.writelines(lines)
        outputs[f'{split}_ann'] = path
        outputs[f'num_{split}'] = len(lines)
    return outputs


@STAGES.register_module('fashion_mnist')
def fashion_mnist_stage(ctx, root: str = osp.join('data', 'fashion_mnist'),
                        src: Optional[str] = None) -> dict:
    """Unpack Fashion-MNIST (Debian ``dataset-fashion-mnist``) to ``root``.

    Returns:
        dict: ``data_root`` (absolute).
    """
    from cf_mm.datasets.fashion_mnist import (DEBIAN_DIR,
                                              prepare_fashion_mnist)
    prepare_fashion_mnist(src or DEBIAN_DIR, root)
    return dict(data_root=osp.abspath(root))


@STAGES.register_module('noisy_labels')
def noisy_labels_stage(ctx,
                       labels: str,
                       noise_percent: float,
                       num_classes: Optional[int] = None,
                       seed: int = 0) -> dict:
    """The noisy labels an N_pre was trained on, as a ``.npy`` file.

    :func:`cf_mm.datasets.noisy_label.corrupt_labels` with the arguments
    of the N_pre's ``NoisyLabelDataset``, applied to the clean labels in
    dataset order (e.g. an ``extract`` stage's ``train_labels.npy``), gives
    exactly the labels that dataset served.

    Args:
        ctx (StageContext): The stage's context.
        labels (str): ``(N,)`` clean integer labels (``.npy``).
        noise_percent (float): ``p`` of the ``NoisyLabelDataset``.
        num_classes (int, optional): Its ``num_classes``; default
            ``labels.max() + 1``.
        seed (int): Its ``seed``.

    Returns:
        dict: ``labels`` (the ``.npy`` file), ``realised_noise_rate``.
    """
    from cf_mm.datasets.noisy_label import corrupt_labels
    clean = np.load(labels)
    if clean.ndim != 1:
        raise ValueError(f'{labels}: expected (N,) class labels, got shape '
                         f'{clean.shape}')
    k = int(num_classes) if num_classes is not None else int(clean.max()) + 1
    noisy = corrupt_labels(clean, noise_percent, k, seed)
    path = ctx.path('labels.npy')
    np.save(path, noisy)
    return dict(labels=path,
                realised_noise_rate=float(np.mean(noisy != clean)))
