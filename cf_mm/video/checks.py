"""Every unreadable entry of a video annotation list, before any work.

:func:`check_dataset_files` checks the files an mmaction2 dataset
(``VideoDataset``, ``RawframeDataset``, subclasses, and wrappers such as
``VideoPseudoLabelDataset``) points to, and raises one
:class:`~cf_mm.datasets.video_files.VideoListError` listing all the
missing, 0-byte and unreadable ones. It runs

* in the Runner, through :class:`CheckVideoFilesHook` (in the
  ``default_hooks`` of ``configs/video/_base_/default_runtime.py``), on the
  train, val and test datasets before any hook works (``ClusterFitHook``
  extracts in its ``before_run``), for ``tools/train.py`` and
  ``tools/test.py`` alike;
* in :func:`cf_mm.features.extract.build_extraction_dataset`, so the
  extraction and evaluation tools check before extracting.
"""
from typing import Iterator

from mmaction.datasets import BaseActionDataset
from mmaction.registry import HOOKS
from mmengine.dataset import BaseDataset
from mmengine.hooks import Hook
from mmengine.runner import BaseLoop

from cf_mm.datasets.video_files import check_video_entries


def action_datasets(dataset) -> Iterator[BaseActionDataset]:
    """The mmaction2 datasets inside ``dataset`` (looking through wrappers
    with a ``dataset`` attribute, e.g. ``VideoPseudoLabelDataset``, and
    mmengine's ``ConcatDataset``'s ``datasets``)."""
    seen = set()
    stack = [dataset]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, BaseActionDataset):
            yield item
            continue
        stack.extend(getattr(item, 'datasets', None) or [])
        stack.append(getattr(item, 'dataset', None))


def check_dataset_files(dataset) -> None:
    """Raise ``VideoListError`` naming every unreadable file of the
    annotation lists of ``dataset`` (nothing for non-video datasets).

    Args:
        dataset: An mmaction2 dataset or a wrapper around one.
    """
    for action in action_datasets(dataset):
        action.full_init()
        # mmengine's get_data_info: the entry as listed (mmaction2's own
        # adds a one-hot vector per multi-label entry, not needed here).
        entries = [BaseDataset.get_data_info(action, i)
                   for i in range(len(action))]
        check_video_entries(
            entries, f'annotation list {action.ann_file}',
            filename_tmpl=getattr(action, 'filename_tmpl', 'img_{:05}.jpg'),
            start_index=getattr(action, 'start_index', 1))


@HOOKS.register_module()
class CheckVideoFilesHook(Hook):
    """Check every file of the runner's video datasets before any work.

    In ``before_run`` (before ``ClusterFitHook`` extracts, which runs at
    ``VERY_HIGH``), each built loop's (train, val, test) dataset is checked
    by :func:`check_dataset_files`: all missing, 0-byte and unreadable
    entries are listed in one error. Corrupt files of non-zero size are
    found when decoded (``ReportVideoErrors`` names them).
    """

    priority = 'HIGHEST'

    def before_run(self, runner) -> None:
        # `runner.train_loop` etc. would *build* a loop; only the loops this
        # run built (train: train + val; test: test) are checked.
        for name in ('_train_loop', '_val_loop', '_test_loop'):
            loop = getattr(runner, name, None)
            if isinstance(loop, BaseLoop):
                check_dataset_files(loop.dataloader.dataset)
