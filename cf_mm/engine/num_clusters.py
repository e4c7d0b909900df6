"""K, the number of clusters, wherever a ClusterFit config keeps it.

An N_cf config holds K in several places: ``num_clusters`` of each
``ClusterFitHook``, ``model.head.num_classes`` (per task with mmpretrain's
``MultiTaskHead``), ``num_classes`` of the data preprocessor (top level, as
in mmpretrain's dataset bases, or in ``model``) and ``num_clusters`` of the
``PseudoLabelDataset``. A config variable (``num_clusters = 100``) is
resolved when mmengine loads the file, so overriding it later changes none
of them. Two functions keep K in one place:

* :func:`set_num_clusters` writes one K into every place of a config
  (``tools/train.py CFG --cfg-options num_clusters=50``, see
  :func:`cf_mm.apis.prepare_config`);
* :func:`check_num_clusters` compares the K of each label set with the
  built model at the start of training; ``ClusterFitHook`` (K from its
  arguments) and ``PseudoLabelCheckHook`` (K from label files) share it.
"""
import copy
from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch.nn as nn

#: Dataset types that serve pseudo-labels (the video one subclasses it).
PSEUDO_LABEL_DATASETS = ('PseudoLabelDataset', 'VideoPseudoLabelDataset')
HOOK_TYPE = 'ClusterFitHook'


def type_name(cfg) -> str:
    """``'PseudoLabelDataset'`` for ``type='mmpretrain.PseudoLabelDataset'``
    or the class itself."""
    kind = cfg.get('type', '') if isinstance(cfg, dict) else ''
    return getattr(kind, '__name__', str(kind)).split('.')[-1]


def clusterfit_hooks(cfg) -> List[dict]:
    """The ``ClusterFitHook`` configs of ``custom_hooks``."""
    return [hook for hook in cfg.get('custom_hooks') or []
            if type_name(hook) == HOOK_TYPE]


def pseudo_label_dataset_cfg(cfg) -> Optional[dict]:
    """The ``PseudoLabelDataset`` config of the train dataloader (looking
    through dataset wrappers), or None."""
    loader = cfg.get('train_dataloader') or {}
    dataset = loader.get('dataset')
    while isinstance(dataset, dict):
        if type_name(dataset) in PSEUDO_LABEL_DATASETS:
            return dataset
        dataset = dataset.get('dataset')
    return None


#: Attribute (and config key) of the classification head: mmpretrain's
#: classifiers call it ``head``, mmaction2's recognizers ``cls_head``.
HEAD_NAMES = ('head', 'cls_head')


def model_head_cfg(cfg) -> Tuple[str, dict]:
    """``('model.head', head config)`` (``cls_head`` for mmaction2), or
    ``('model.head', {})`` without one."""
    model = cfg.get('model') or {}
    for name in HEAD_NAMES:
        if isinstance(model.get(name), dict):
            return f'model.{name}', model[name]
    return 'model.head', {}


# ----------------------------------------------------------------- config
def set_num_clusters(cfg, num_clusters: Union[int, Sequence[int]]) -> List[
        str]:
    """Write K into every place ``cfg`` keeps it (in place).

    Sets ``num_clusters`` of every ``ClusterFitHook``, the ``num_classes``
    of the head (of the hook's task with a ``MultiTaskHead``), of the top
    level and the model's data preprocessor (where they have one) and
    ``num_clusters`` of the ``PseudoLabelDataset`` (where set), plus the
    top-level ``num_clusters``. A list (a K sweep from one extraction,
    tasks ``k<K>``) rebuilds the ``MultiTaskHead``'s task heads (each a copy
    of the first, ``num_classes`` = its K) and the dataset's
    ``task_names``.

    Args:
        cfg (Config): A training config.
        num_clusters (int | Sequence[int]): The new K.

    Returns:
        list[str]: The config keys that were set.

    Raises:
        ValueError: Nothing in the config takes K, or the change cannot be
            made in one place (a K list for a single-K config, or for a
            hook with its own ``task_names``).
    """
    hooks = clusterfit_hooks(cfg)
    hook_keys = [f'custom_hooks.{i}.num_clusters'
                 for i, hook in enumerate(cfg.get('custom_hooks') or [])
                 if type_name(hook) == HOOK_TYPE]
    dataset = pseudo_label_dataset_cfg(cfg)
    if not hooks and dataset is None:
        raise ValueError(
            f'num_clusters={num_clusters} was given, but the config has no '
            f'{HOOK_TYPE} in custom_hooks and no PseudoLabelDataset in '
            'train_dataloader: nothing takes K')
    if isinstance(num_clusters, (list, tuple)):
        return _set_k_list(cfg, hooks, hook_keys, dataset,
                           [int(k) for k in num_clusters])
    k = int(num_clusters)
    done = ['num_clusters']
    cfg['num_clusters'] = k
    head_key, head = model_head_cfg(cfg)
    tasks = [hook.get('task_name') for hook in hooks] or (
        list(dataset.get('task_names') or [None]) if dataset else [None])
    for hook, key in zip(hooks, hook_keys):
        if isinstance(hook.get('num_clusters'), (list, tuple)):
            raise ValueError(
                f'num_clusters={k}: custom_hooks {HOOK_TYPE} makes a K sweep '
                f"({hook['num_clusters']}); give a list, e.g. "
                f'num_clusters="[{k},{2 * k}]"')
        hook['num_clusters'] = k
        done.append(key)
    task_heads = head.get('task_heads')
    if task_heads is None:
        if tasks != [None]:
            raise ValueError(
                f'num_clusters={k}: the label sets {tasks} are tasks, but '
                f'{head_key} is {type_name(head) or "missing"}, not a '
                'MultiTaskHead')
        if 'num_classes' in head:
            head['num_classes'] = k
            done.append(f'{head_key}.num_classes')
    else:
        for task in tasks:
            if task not in task_heads:
                raise ValueError(
                    f'num_clusters={k}: task {task!r} has no head in '
                    f'{head_key}.task_heads ({list(task_heads)})')
            task_heads[task]['num_classes'] = k
            done.append(f'{head_key}.task_heads.{task}.num_classes')
    # Every task has this K, so the preprocessor's num_classes (used by
    # batch augments such as Mixup) is K too.
    for key, preprocessor in (
            ('data_preprocessor', cfg.get('data_preprocessor')),
            ('model.data_preprocessor',
             (cfg.get('model') or {}).get('data_preprocessor'))):
        if isinstance(preprocessor, dict) and 'num_classes' in preprocessor:
            preprocessor['num_classes'] = k
            done.append(f'{key}.num_classes')
    if dataset is not None and dataset.get('num_clusters') is not None:
        dataset['num_clusters'] = k
        done.append('train_dataloader.dataset.num_clusters')
    return done


def _set_k_list(cfg, hooks: List[dict], hook_keys: List[str],
                dataset: Optional[dict], ks: List[int]) -> List[str]:
    """:func:`set_num_clusters` for a K sweep."""
    if len(hooks) != 1 or not isinstance(hooks[0].get('num_clusters'),
                                         (list, tuple)):
        raise ValueError(
            f'num_clusters={ks} is a K sweep, which needs one {HOOK_TYPE} '
            'with a list num_clusters (see configs/clusterfit/'
            'clusterfit-multik-multitask-rotnet-k1000-4000-16000_*.py); this '
            'config has '
            f'{len(hooks)} such hook(s), with K '
            f'{[hook.get("num_clusters") for hook in hooks]}')
    hook = hooks[0]
    if hook.get('task_names') is not None:
        raise ValueError(
            f'num_clusters={ks}: the {HOOK_TYPE} names its tasks '
            f"({hook['task_names']}); set {hook_keys[0]}, its task_names, "
            'model.head.task_heads and train_dataloader.dataset.task_names '
            'together')
    head_key, head = model_head_cfg(cfg)
    old_heads = head.get('task_heads') or {}
    if not old_heads:
        raise ValueError(f'num_clusters={ks}: a K sweep needs a '
                         'MultiTaskHead with one task head per K')
    tasks = [f'k{k}' for k in ks]
    template = next(iter(old_heads.values()))
    head['task_heads'] = {
        task: dict(copy.deepcopy(template), num_classes=k)
        for task, k in zip(tasks, ks)}
    hook['num_clusters'] = list(ks)
    cfg['num_clusters'] = list(ks)
    done = ['num_clusters', hook_keys[0], f'{head_key}.task_heads']
    if dataset is not None:
        dataset['task_names'] = tasks
        done.append('train_dataloader.dataset.task_names')
    return done


# ---------------------------------------------------------------- runtime
#: ``(task name or None, K)`` of one label set.
LabelSetK = Tuple[Optional[str], int]


def model_class_counts(model: nn.Module, label_sets: Sequence[LabelSetK],
                       multi_task: bool, who: str = '') -> List[
                           Tuple[str, Optional[int], LabelSetK]]:
    """``(config key, num_classes, label set)`` of every part of the model
    that must equal a label set's K: the head (``cls_head`` of mmaction2's
    recognizers; each task's head of a ``MultiTaskHead``) and, for a single
    label set, the data preprocessor.

    Args:
        model (nn.Module): The built N_cf (not wrapped).
        label_sets (Sequence[tuple]): ``(task, K)`` of each label set.
        multi_task (bool): Whether the label sets are tasks of a
            ``MultiTaskHead`` (a K sweep, or several named label sets).
        who (str): Prefix of the error messages, e.g. ``'ClusterFitHook: '``.

    Raises:
        ValueError: Label sets that are tasks but no ``MultiTaskHead``, or
            a task that has no head.
    """
    head_name = next((name for name in HEAD_NAMES
                      if getattr(model, name, None) is not None), 'head')
    head = getattr(model, head_name, None)
    task_heads = getattr(head, 'task_heads', None)
    if task_heads is None:
        if multi_task:
            tasks = [task for task, _ in label_sets]
            raise ValueError(
                f'{who}the label sets are the tasks {tasks}, so model.'
                f'{head_name} must be a MultiTaskHead with those tasks, got '
                f'{type(head).__name__}')
        label_set = label_sets[0]
        preprocessor = getattr(model, 'data_preprocessor', None)
        return [(f'model.{head_name}.num_classes',
                 getattr(head, 'num_classes', None), label_set),
                ('data_preprocessor.num_classes',
                 getattr(preprocessor, 'num_classes', None), label_set)]
    counts = []
    for label_set in label_sets:
        task = label_set[0]
        if task not in task_heads:
            raise ValueError(
                f'{who}task_name={task!r} is not a task of model.'
                f'{head_name} ({type(head).__name__} with tasks '
                f'{list(task_heads)})')
        counts.append((f'model.{head_name}.task_heads.{task}.num_classes',
                       getattr(task_heads[task], 'num_classes', None),
                       label_set))
    return counts


def check_num_clusters(model: nn.Module, label_sets: Sequence[LabelSetK],
                       num_samples: int, multi_task: bool,
                       describe: Callable[[LabelSetK], str],
                       other_k: Callable[[LabelSetK, int], str],
                       who: str = '') -> None:
    """Stop, naming both values and the fix, if K cannot train ``model``.

    Every K must equal the ``num_classes`` of its head (and, for one label
    set, of the data preprocessor) and must not exceed the number of
    samples.

    Args:
        model (nn.Module): The built N_cf (not wrapped).
        label_sets (Sequence[tuple]): ``(task, K)`` of each label set.
        num_samples (int): Length of the train dataset.
        multi_task (bool): See :func:`model_class_counts`.
        describe (Callable): ``describe(label_set)`` -> where K comes from,
            e.g. ``'ClusterFitHook: num_clusters=100'``.
        other_k (Callable): ``other_k(label_set, value)`` -> the other fix,
            e.g. ``'num_clusters to 50'``.
        who (str): Prefix of the messages about the model's structure.

    Raises:
        ValueError: The first disagreement found.
    """
    for label_set in label_sets:
        if label_set[1] > num_samples:
            raise ValueError(
                f'{describe(label_set)} is larger than the train dataset '
                f'({num_samples} samples); k-means needs at least one sample '
                'per cluster')
    for name, value, label_set in model_class_counts(model, label_sets,
                                                     multi_task, who):
        k = label_set[1]
        if value is not None and int(value) != k:
            raise ValueError(
                f'{describe(label_set)} but {name}={value} in the training '
                f'config; they must be equal (set {name} to {k}, or '
                f'{other_k(label_set, int(value))})')
