"""Unpack Debian's ``dataset-fashion-mnist`` for mmpretrain's FashionMNIST.

Example:
    apt-get install dataset-fashion-mnist
    python tools/prepare_fashion_mnist.py --out data/fashion_mnist
"""
import argparse

from cf_mm.datasets.fashion_mnist import DEBIAN_DIR, prepare_fashion_mnist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--src', default=DEBIAN_DIR,
                        help='folder holding the gzipped IDX files')
    parser.add_argument('--out', default='data/fashion_mnist',
                        help='destination folder')
    args = parser.parse_args()
    out = prepare_fashion_mnist(args.src, args.out)
    print(f'Fashion-MNIST ready in {out}')


if __name__ == '__main__':
    main()
