"""Pseudo-labels for mmaction2 datasets."""
from typing import Optional

import numpy as np
from mmaction.registry import DATASETS

from cf_mm.datasets.pseudo_label import PseudoLabelDataset


@DATASETS.register_module()
class VideoPseudoLabelDataset(PseudoLabelDataset):
    """:class:`~cf_mm.datasets.PseudoLabelDataset` for mmaction2 datasets.

    mmaction2's datasets and ``PackActionInputs`` keep a video's label under
    ``label`` (not mmpretrain's ``gt_label``): the cluster id goes there and
    the dataset's own label (int, list of tags or one-hot) to
    ``ori_label``. One label set only (mmaction2 packs no label dicts).

    Args:
        dataset (dict | BaseActionDataset): ``VideoDataset``,
            ``RawframeDataset`` ... or its config.
        label_files (str, optional): ``labels.npy`` (or its folder) from
            ``tools/cluster.py``; otherwise ``ClusterFitHook`` sets them.
        num_clusters (int, optional): K.
    """

    def __init__(self, dataset, label_files: Optional[str] = None,
                 num_clusters: Optional[int] = None):
        super().__init__(dataset, task_names=None, label_files=label_files,
                         num_clusters=num_clusters)

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        info['ori_label'] = info.pop('label', None)
        info['label'] = info.pop('gt_label')
        return info

    def get_original_gt_labels(self) -> Optional[np.ndarray]:
        """Single-label class ids of the wrapped dataset (for NMI/ARI), or
        None for multi-label or unlabelled datasets."""
        labels = []
        for idx in range(len(self.dataset)):
            label = self.dataset.get_data_info(idx).get('label')
            if isinstance(label, (list, tuple)) and len(label) == 1:
                label = label[0]
            if not isinstance(label, (int, np.integer)):
                return None
            labels.append(int(label))
        return np.asarray(labels, dtype=np.int64)
