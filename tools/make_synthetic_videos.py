"""Generate small labelled video clips of moving Fashion-MNIST items.

Writes ``<out>/{train,val}/NNNNN.mp4`` (real MPEG-4 files) and mmaction2
``VideoDataset`` annotation files ``<out>/<split>_{tags,class,motion}.txt``
(weak multi-label tags; item class; motion direction). ``--rawframes``
writes frame folders ``<out>/<split>/NNNNN/img_00001.jpg`` ... and
``RawframeDataset`` annotations (``<folder> <num_frames> <label> ...``)
instead. See :mod:`cf_mm.datasets.video_synthetic`.

Example:
    python tools/prepare_fashion_mnist.py --out data/fashion_mnist
    python tools/make_synthetic_videos.py --out data/synthetic_videos
    python tools/make_synthetic_videos.py --rawframes \
        --out data/synthetic_rawframes
"""
import argparse
import time

from cf_mm.datasets.video_synthetic import make_synthetic_videos
from cf_mm.utils.cli import int_at_least, positive_int, probability, run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--fmnist', default='data/fashion_mnist',
                        help='unpacked Fashion-MNIST IDX files')
    parser.add_argument('--out', default='data/synthetic_videos')
    parser.add_argument('--num-train', type=positive_int, default=600)
    parser.add_argument('--num-val', type=positive_int, default=200)
    parser.add_argument('--num-frames', type=positive_int, default=64)
    parser.add_argument('--canvas', type=positive_int, default=32)
    parser.add_argument('--sprite', type=positive_int, default=16)
    parser.add_argument('--p-missing', type=probability, default=0.2,
                        help='probability of dropping each true tag')
    parser.add_argument('--p-spurious', type=probability, default=0.2,
                        help='probability of adding one wrong tag')
    parser.add_argument('--seed', type=int_at_least(0), default=0)
    parser.add_argument('--rawframes', action='store_true',
                        help='write JPEG frame folders (RawframeDataset) '
                        'instead of MPEG-4 files (VideoDataset)')
    args = parser.parse_args()
    start = time.time()
    files = make_synthetic_videos(
        args.fmnist, args.out,
        splits=(('train', args.num_train), ('val', args.num_val)),
        num_frames=args.num_frames, canvas=args.canvas, sprite=args.sprite,
        p_missing=args.p_missing, p_spurious=args.p_spurious, seed=args.seed,
        rawframes=args.rawframes)
    print(f'{args.num_train + args.num_val} clips in '
          f'{time.time() - start:.1f} s; annotations: ' +
          ', '.join(f for split in files.values() for f in split.values()))


if __name__ == '__main__':
    run_main(main)
