"""Issue 16, item 2: replaced image contents under unchanged file names are
a new dataset: the labels are made again, not reused."""
import os
import os.path as osp

import cv2
import numpy as np

from cf_mm.apis import train
from cf_mm.datasets.pseudo_label import dataset_fingerprint
from cf_mm.utils.fingerprint import file_identity
from tests.reliability.helpers import (folder_cfg, label_dir,
                                       write_image_folder)


def folder_dataset(folder):
    from mmpretrain.datasets import CustomDataset
    return CustomDataset(data_root=str(folder), with_label=False,
                         pipeline=[])


def test_file_identity_is_size_and_mtime(tmp_path):
    path = tmp_path / 'a.bin'
    path.write_bytes(b'12345')
    st = os.stat(path)
    assert file_identity(str(path)) == f'5:{st.st_mtime_ns}'
    assert file_identity(str(tmp_path / 'missing')) == ''
    assert file_identity('s3://bucket/key.jpg') == ''


def test_dataset_fingerprint_follows_contents(fmnist_root, tmp_path):
    paths = write_image_folder(fmnist_root, tmp_path / 'imgs', num=12)
    before = dataset_fingerprint(folder_dataset(tmp_path / 'imgs'))
    assert dataset_fingerprint(folder_dataset(tmp_path / 'imgs')) == before
    # Same names, another picture in one file.
    img = cv2.imread(paths[3], cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(paths[3], 255 - img)
    changed = dataset_fingerprint(folder_dataset(tmp_path / 'imgs'))
    assert changed != before
    # Same size, new mtime (e.g. rewritten in place) also counts as new.
    st = os.stat(paths[5])
    os.utime(paths[5], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert dataset_fingerprint(folder_dataset(tmp_path / 'imgs')) != changed
    # Restoring size and mtime is not detected (documented limit): the
    # fingerprint equals the one with the old mtime again.
    os.utime(paths[5], ns=(st.st_atime_ns, st.st_mtime_ns))
    assert dataset_fingerprint(folder_dataset(tmp_path / 'imgs')) == changed


def test_replaced_images_are_clustered_again(fmnist_root, rotnet_checkpoint,
                                             tmp_path):
    folder = tmp_path / 'imgs'
    paths = write_image_folder(fmnist_root, folder, num=40)
    work = tmp_path / 'work'
    train(folder_cfg(folder, rotnet_checkpoint, work))
    label_file = osp.join(label_dir(work), 'labels.npy')
    # Rerun, same images: reused (file untouched).
    mtime = os.stat(label_file).st_mtime_ns
    train(folder_cfg(folder, rotnet_checkpoint, work))
    assert os.stat(label_file).st_mtime_ns == mtime

    # Replace the content of half the images, keeping every name.
    for path in paths[:20]:
        img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(path, np.ascontiguousarray(img[::-1, ::-1]))
    runner = train(folder_cfg(folder, rotnet_checkpoint, work))
    assert os.stat(label_file).st_mtime_ns != mtime  # clustered again
    # Independent check: a run in a clean work dir on the new images gives
    # the labels the rerun made and trained on.
    clean = tmp_path / 'clean'
    train(folder_cfg(folder, rotnet_checkpoint, clean))
    expected = np.load(osp.join(label_dir(clean), 'labels.npy'))
    np.testing.assert_array_equal(np.load(label_file), expected)
    np.testing.assert_array_equal(
        runner.train_dataloader.dataset.get_labels(), expected)
