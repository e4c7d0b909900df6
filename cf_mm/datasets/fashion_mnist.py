"""Fashion-MNIST from Debian's ``dataset-fashion-mnist`` package.

``apt-get install dataset-fashion-mnist`` puts the gzipped IDX files in
``/usr/share/datasets/fashion-mnist``; mmpretrain's ``FashionMNIST`` dataset
reads the unpacked files from its ``data_prefix``.
"""
import gzip
import os
import os.path as osp
import shutil

DEBIAN_DIR = '/usr/share/datasets/fashion-mnist'
FILES = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
         't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')


def prepare_fashion_mnist(src: str = DEBIAN_DIR, out: str = 'data/fashion_mnist') -> str:
    """Unpack the four IDX files from ``src`` into ``out`` (idempotent).

    Args:
        src (str): Folder with the ``*.gz`` IDX files.
        out (str): Destination folder.

    Returns:
        str: ``out``.
    """
    os.makedirs(out, exist_ok=True)
    for name in FILES:
        dst = osp.join(out, name)
        if osp.isfile(dst):
            continue
        gz = osp.join(src, name + '.gz')
        if not osp.isfile(gz):
            raise FileNotFoundError(
                f'{gz} not found: install it with '
                '`apt-get install dataset-fashion-mnist` or pass --src')
        with gzip.open(gz, 'rb') as fin, open(dst + '.tmp', 'wb') as fout:
            shutil.copyfileobj(fin, fout)
        os.replace(dst + '.tmp', dst)
    return out
