"""A project folder with tiny datasets in the layouts the paper-scale configs
expect: ``configs/`` (a link to cf_mm's) and ``data/`` with

* ``imagenet``: mmpretrain's ImageNet layout, ``train/<wnid>/*.JPEG``,
  ``val/*.JPEG``, ``meta/{train,val}.txt`` and the concept-split
  annotations of the SL-MLP configs (``meta/concept_*``);
* ``tags``: mmpretrain's ``MultiLabelDataset`` (``images/``,
  ``meta/train.json``) with 1500 tag names;
* ``places205``: Places205 as distributed (``images256/``,
  ``trainvalsplit_places205/*.csv``), images of three classes;
* ``ig-verb`` and ``kinetics400``: clips made by
  ``tools/make_synthetic_videos.py``, with their tag / class lists under
  the configs' names.

Images are real pictures (Fashion-MNIST items, coloured and resized), a
handful per class: enough for a couple of iterations of every stage.
"""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import numpy as np

from cf_mm.datasets.video_synthetic import read_idx

IMAGES_PER_CLASS = 3
NUM_CLASSES = 4  # ImageNet classes 0-3; pre-D = {0, 1}, eval-D = {2, 3}


def _images(fmnist_root: str, num: int, offset: int = 0) -> list:
    import cv2
    raw = read_idx(osp.join(fmnist_root, 'train-images-idx3-ubyte'))
    out = []
    for i in range(offset, offset + num):
        grey = cv2.resize(raw[i], (64, 64))
        colour = np.stack([grey, 255 - grey, grey // 2], axis=2)
        out.append(colour.astype(np.uint8))
    return out


def _write(path: str, image) -> None:
    import cv2
    os.makedirs(osp.dirname(path), exist_ok=True)
    cv2.imwrite(path, image)


def _imagenet(root: str, fmnist_root: str) -> None:
    images = iter(_images(fmnist_root, NUM_CLASSES * IMAGES_PER_CLASS + 4))
    train, val = [], []
    for label in range(NUM_CLASSES):
        wnid = f'n{label:08d}'
        for j in range(IMAGES_PER_CLASS):
            name = f'{wnid}/{wnid}_{j}.JPEG'
            _write(osp.join(root, 'train', name), next(images))
            train.append((name, label))
    for label in range(NUM_CLASSES):
        name = f'ILSVRC2012_val_{label:08d}.JPEG'
        _write(osp.join(root, 'val', name), next(images))
        val.append((name, label))
    meta = osp.join(root, 'meta')
    os.makedirs(meta)

    def write_ann(file, rows, classes=None):
        with open(osp.join(meta, file), 'w') as f:
            for name, label in rows:
                if classes is None or label in classes:
                    new = label if classes is None else classes.index(label)
                    f.write(f'{name} {new}\n')

    write_ann('train.txt', train)
    write_ann('val.txt', val)
    for part, classes in (('pre_d', [0, 1]), ('eval_d', [2, 3])):
        with open(osp.join(meta, f'concept_{part}_classes.txt'), 'w') as f:
            f.write('\n'.join(map(str, classes)) + '\n')
        write_ann(f'concept_{part}_train.txt', train, classes)
        write_ann(f'concept_{part}_val.txt', val, classes)


def _tags(root: str, fmnist_root: str) -> None:
    data_list = []
    for i, image in enumerate(_images(fmnist_root, 12, offset=100)):
        name = f'{i:04d}.jpg'
        _write(osp.join(root, 'images', name), image)
        data_list.append(dict(img_path=name,
                              gt_label=sorted({i % 5, 5 + i % 3})))
    os.makedirs(osp.join(root, 'meta'))
    with open(osp.join(root, 'meta', 'train.json'), 'w') as f:
        json.dump(dict(metainfo=dict(classes=[f'tag{t}'
                                              for t in range(1500)]),
                       data_list=data_list), f)


def _places(root: str, fmnist_root: str) -> None:
    """Places205 as distributed: ``images256/<letter>/<class>/`` and the
    split lists ``trainvalsplit_places205/{train,val}_places205.csv``;
    images of three classes, one of them with a sub-folder."""
    from mmpretrain.datasets import Places205
    classes = Places205.METAINFO['classes']
    chosen = [0, 1, classes.index('temple/east_asia')]
    images = iter(_images(fmnist_root, 3 * len(chosen), offset=200))
    lists = {'train': [], 'val': []}
    for label in chosen:
        name = classes[label]
        for j, split in enumerate(('train', 'train', 'val')):
            rel = f'{name[0]}/{name}/{j:08d}.jpg'
            _write(osp.join(root, 'images256', rel), next(images))
            lists[split].append(f'{rel} {label}')
    folder = osp.join(root, 'trainvalsplit_places205')
    os.makedirs(folder)
    for split, rows in lists.items():
        with open(osp.join(folder, f'{split}_places205.csv'), 'w') as f:
            f.write('\n'.join(rows) + '\n')


def _videos(data: str, fmnist_root: str, repo: str) -> None:
    """Clips from the project's own tool, under the configs' names."""
    source = osp.join(data, 'synthetic_videos')
    subprocess.run(
        [sys.executable, osp.join(repo, 'tools', 'make_synthetic_videos.py'),
         '--fmnist', fmnist_root, '--out', source, '--num-train', '6',
         '--num-val', '2', '--num-frames', '32'],
        cwd=repo, check=True, capture_output=True,
        env=dict(os.environ, PYTHONPATH=repo))
    ig = osp.join(data, 'ig-verb')
    os.makedirs(ig)
    os.symlink(source, osp.join(ig, 'videos'))
    for name in ('ig-verb-19m', 'ig-verb-62m'):
        shutil.copy(osp.join(source, 'train_tags.txt'),
                    osp.join(ig, f'{name}_train_list_videos.txt'))
    kinetics = osp.join(data, 'kinetics400')
    os.makedirs(kinetics)
    for split, name in (('train', 'train'), ('val', 'val')):
        os.symlink(source, osp.join(kinetics, f'videos_{name}'))
        shutil.copy(osp.join(source, f'{split}_class.txt'),
                    osp.join(kinetics, f'kinetics400_{name}_list_videos.txt'))


def make_project(root: str, fmnist_root: str, repo: str,
                 videos: bool = True) -> str:
    """Make the project folder ``root`` (see the module docstring)."""
    os.makedirs(osp.join(root, 'data'))
    os.symlink(osp.join(repo, 'configs'), osp.join(root, 'configs'))
    data = osp.join(root, 'data')
    _imagenet(osp.join(data, 'imagenet'), fmnist_root)
    _tags(osp.join(data, 'tags'), fmnist_root)
    _places(osp.join(data, 'places205'), fmnist_root)
    if videos:
        _videos(data, fmnist_root, repo)
    return root
