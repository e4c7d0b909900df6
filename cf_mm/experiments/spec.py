"""Experiment files: settings, declared stages, ``${...}`` references.

An experiment file is an mmengine config file (``.py``) with a list
``stages``; every other top-level name is a *setting*::

    epochs = 2
    stages = [
        dict(name='rotnet', type='train', config='configs/demo/rotnet.py',
             options={'train_cfg.max_epochs': '${epochs}'}),
        dict(name='probe_p${p}', type='knn', foreach=dict(p=[0, 50]),
             features='${extract_p${p}.features}', method='N_pre p=${p}',
             target='cifar10'),
    ]

* ``${name}`` / ``${name.key.0}`` is a setting (or a part of one), a
  ``foreach`` variable, or an output of an **earlier** stage
  (``${rotnet.checkpoint}``). A string that is exactly one reference takes
  the referenced value with its type; inside a longer string the value is
  formatted with ``str``. The innermost reference is resolved first, so
  ``${npre_p${p}.checkpoint}`` works.
* ``foreach=dict(a=[...], b=[...])`` repeats a stage for every combination
  (in the order given); its name must use the variables so that names stay
  unique. An empty list gives no stage (a setting can so switch a family
  of stages off).
* ``${probe_*.records}`` (a ``*`` / ``?`` pattern in the stage name, the
  whole string) is the list of ``${<name>.records}`` of every earlier stage
  whose name matches, in run order; inside a list it is spliced in. A
  report can so collect the results of ``foreach`` stages whatever lists
  the settings (and their overrides) give.
* Settings and ``foreach`` variables are resolved when the file is loaded
  (after command-line overrides, so ``--cfg-options epochs=1`` changes every
  stage that says ``${epochs}``); stage outputs when the stage runs.

Seeds
-----
A setting ``seeds = [0, 1, 2]`` (or ``--cfg-options "seeds=[0,1,2]"``)
repeats every trained network once per seed without copying stages:

* a stage whose type trains a network (``train``, ``clusterfit``,
  ``linear_probe``, ...: :func:`~cf_mm.experiments.registry.trains_network`)
  becomes one stage per seed, ``<name>_s<seed>``, whose ``seed`` parameter
  is the seed (it reaches the network's ``randomness.seed``);
* a stage that refers to a repeated stage is repeated with it and refers
  to the copy of the same seed (the features of ``npre_s1`` are extracted by
  ``feat_npre_s1`` and probed by ``probe_npre_s1``); a stage taking ``tags``
  gets ``seed`` among them, so its records say which seed they belong to;
* every other stage (data preparation, noisy labels with their own fixed
  seed) runs once and is shared by all seeds, so its outputs are reused;
* a stage that collects results
  (:func:`~cf_mm.experiments.registry.aggregates_seeds`, e.g. ``report``)
  runs once: a reference to a repeated stage inside a list stands for the
  copies of every seed (spliced in), anywhere else for the first seed's.

Without a ``seeds`` setting nothing is repeated and no name changes (each
network trains with its config's own seed). ``seeds=[0]`` is the
single-seed run under the repeated names, so a later ``seeds=[0,1,2]`` reuses
it.

Reserved top-level names: ``stages``, ``work_dir`` (default
``work_dirs/experiments/<file name>``), ``custom_imports`` (modules that
register more stage types, imported by mmengine when the file is loaded).
"""
import fnmatch
import inspect
import os.path as osp
import re
from dataclasses import dataclass, field
from itertools import product
from typing import Any, Callable, Dict, List, Optional

from .registry import STAGES

REF = re.compile(r'\$\{([^${}]+)\}')
NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.\-]*$')
RESERVED = ('stages', 'work_dir', 'custom_imports')
SEEDS = 'seeds'  # the setting that repeats trained networks over seeds
STAGE_KEYS = ('name', 'type', 'foreach')
_MISSING = object()


@dataclass
class StageSpec:
    """One stage after expansion.

    Attributes:
        name (str): Unique name; also its work dir under the experiment's.
        type (str): Registered stage type.
        params (dict): Keyword arguments of the stage function; references to
            earlier stages are still ``${...}`` strings.
        deps (list[str]): Earlier stages this one refers to.
    """
    name: str
    type: str
    params: Dict[str, Any]
    deps: List[str] = field(default_factory=list)


@dataclass
class Experiment:
    """A loaded experiment file.

    Attributes:
        name (str): File name without extension.
        path (str): The experiment file.
        work_dir (str): Root of every stage's work dir.
        settings (dict): Top-level names other than the reserved ones.
        stages (list[StageSpec]): The expanded stages, in run order.
    """
    name: str
    path: str
    work_dir: str
    settings: Dict[str, Any]
    stages: List[StageSpec]


def lookup(root: Dict[str, Any], path: str, default=_MISSING):
    """``root['a']['b'][0]`` for ``path='a.b.0'`` (``default`` if absent)."""
    value: Any = root
    for part in path.split('.'):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, (list, tuple)) and part.isdigit() and \
                int(part) < len(value):
            value = value[int(part)]
        else:
            return default
    return value


def substitute(obj, resolve: Callable[[str], Any]):
    """Replace ``${...}`` references in every string of ``obj``.

    Args:
        obj: A string, or dicts / lists / tuples holding strings.
        resolve (callable): Reference path -> value, or ``_MISSING`` to leave
            the reference as it is.

    Returns:
        A copy of ``obj`` with the resolvable references replaced.
    """
    if isinstance(obj, dict):
        return {key: substitute(value, resolve) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(substitute(value, resolve) for value in obj)
    if not isinstance(obj, str):
        return obj
    text = obj
    while True:
        whole = REF.fullmatch(text)
        if whole:
            value = resolve(whole.group(1).strip())
            return text if value is _MISSING else value

        def replace(match):
            value = resolve(match.group(1).strip())
            return match.group(0) if value is _MISSING else str(value)

        new = REF.sub(replace, text)
        if new == text:
            return text
        text = new


def references(obj) -> List[str]:
    """The ``${...}`` reference paths left in ``obj`` (innermost ones)."""
    found: List[str] = []
    if isinstance(obj, dict):
        for value in obj.values():
            found += references(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            found += references(value)
    elif isinstance(obj, str):
        found += [m.group(1).strip() for m in REF.finditer(obj)]
    return found


def expand_patterns(obj, names: List[str], where: str):
    """Replace ``${<pattern>.key}`` strings by the matching stages' refs.

    Args:
        obj: A parameter value (strings, dicts, lists, tuples).
        names (list[str]): Names of the earlier stages, in run order.
        where (str): Stage description for error messages.

    Returns:
        ``obj`` with every pattern string replaced by a list of references
        (spliced into an enclosing list or tuple).
    """

    def matches(text):
        whole = REF.fullmatch(text)
        if not whole:
            return None
        head, _, rest = whole.group(1).strip().partition('.')
        if '*' not in head and '?' not in head:
            return None
        found = [n for n in names if fnmatch.fnmatchcase(n, head)]
        if not found:
            raise ValueError(f'{where}: {text} matches no earlier stage')
        return ['${' + n + ('.' + rest if rest else '') + '}' for n in found]

    if isinstance(obj, dict):
        return {k: expand_patterns(v, names, where) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        out = []
        for value in obj:
            refs = matches(value) if isinstance(value, str) else None
            if refs is None:
                out.append(expand_patterns(value, names, where))
            else:
                out += refs
        return type(obj)(out)
    if isinstance(obj, str):
        refs = matches(obj)
        return obj if refs is None else refs
    return obj


def _expand_foreach(raw: dict, settings: dict, where: str) -> List[dict]:
    """The combinations of a stage's ``foreach`` variables (or ``[{}]``)."""
    foreach = raw.get('foreach')
    if not foreach:
        return [{}]
    if not isinstance(foreach, dict):
        raise ValueError(f'{where}: foreach must be a dict of variable -> '
                         f'list of values, got {foreach!r}')
    foreach = substitute(foreach, lambda path: lookup(settings, path))
    for var, values in foreach.items():
        if not isinstance(values, (list, tuple)):
            raise ValueError(f'{where}: foreach variable {var!r} must be a '
                             f'list (empty: no stage), got {values!r}')
        if var in settings:
            raise ValueError(f'{where}: foreach variable {var!r} shadows '
                             'the setting of that name')
    names = list(foreach)
    return [dict(zip(names, combo)) for combo in product(*foreach.values())]


def check_params(stage_type: str, params: dict, where: str) -> None:
    """Fail early on parameters the stage function does not take."""
    fn = STAGES.get(stage_type)
    if fn is None:
        known = sorted(STAGES.module_dict)
        raise ValueError(f'{where}: unknown stage type {stage_type!r}; '
                         f'registered types: {known}')
    signature = inspect.signature(fn)
    takes_any = any(p.kind == p.VAR_KEYWORD
                    for p in signature.parameters.values())
    named = [p for p in list(signature.parameters.values())[1:]
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    accepted = [p.name for p in named]
    if not takes_any:
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise ValueError(f'{where}: unknown parameter(s) {unknown} of '
                             f'stage type {stage_type!r}; it takes '
                             f'{accepted}')
    required = [p.name for p in named if p.default is p.empty]
    missing = [name for name in required if name not in params]
    if missing:
        raise ValueError(f'{where}: stage type {stage_type!r} needs '
                         f'parameter(s) {missing}')


def check_seeds(seeds, source: str = 'experiment') -> Optional[List[int]]:
    """The ``seeds`` setting as a list of distinct ints >= 0 (or None)."""
    if seeds is None:
        return None
    if (not isinstance(seeds, (list, tuple)) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool)
                       and s >= 0 for s in seeds)
            or len(set(seeds)) != len(seeds)):
        raise ValueError(f'{source}: `seeds` must be a non-empty list of '
                         f'distinct integers >= 0, got {seeds!r}')
    return list(seeds)


def _stage_flag(stage_type: str, flag: str) -> bool:
    fn = STAGES.get(stage_type)
    return bool(getattr(fn, flag, False)) if fn is not None else False


def _takes(stage_type: str, param: str) -> bool:
    fn = STAGES.get(stage_type)
    return fn is not None and param in inspect.signature(fn).parameters


def _seed_copy_refs(obj, repeated: set, seed: int):
    """References to repeated stages renamed to their ``seed`` copies."""

    def rename(text):
        def one(match):
            head, dot, rest = match.group(1).strip().partition('.')
            if head not in repeated:
                return match.group(0)
            return '${' + f'{head}_s{seed}' + dot + rest + '}'
        return REF.sub(one, text)

    if isinstance(obj, dict):
        return {k: _seed_copy_refs(v, repeated, seed) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_seed_copy_refs(v, repeated, seed) for v in obj)
    return rename(obj) if isinstance(obj, str) else obj


def _all_seed_refs(obj, repeated: set, seeds: List[int]):
    """For a stage that collects every seed: a list item that is exactly a
    reference to a repeated stage becomes one item per seed; any other
    reference to one names the first seed's copy."""
    if isinstance(obj, dict):
        return {k: _all_seed_refs(v, repeated, seeds) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        out = []
        for value in obj:
            whole = REF.fullmatch(value) if isinstance(value, str) else None
            head = whole.group(1).strip().split('.', 1)[0] if whole else None
            if head in repeated:
                out += [_seed_copy_refs(value, repeated, s) for s in seeds]
            else:
                out.append(_all_seed_refs(value, repeated, seeds))
        return type(obj)(out)
    if isinstance(obj, str):
        return _seed_copy_refs(obj, repeated, seeds[0])
    return obj


def _seed_variants(name: str, stage_type: str, body: dict,
                   seeds: Optional[List[int]], repeated: set,
                   where: str) -> List[tuple]:
    """``[(name, body)]`` of a stage: one per seed if it is repeated."""
    if seeds is None:
        return [(name, body)]
    heads = {ref.split('.', 1)[0] for ref in references(body)}
    if _stage_flag(stage_type, 'aggregates_seeds'):
        return [(name, _all_seed_refs(body, repeated, seeds))]
    trains = _stage_flag(stage_type, 'trains_network')
    if not trains and not heads & repeated:
        return [(name, body)]
    if trains and 'seed' in body:
        raise ValueError(f'{where}: with the `seeds` setting a trained '
                         'stage gets its seed from it; remove `seed`')
    repeated.add(name)
    variants = []
    for seed in seeds:
        copy = _seed_copy_refs(body, repeated, seed)
        if trains:
            copy['seed'] = seed
        if _takes(stage_type, 'tags'):
            copy['tags'] = dict(copy.get('tags') or {}, seed=seed)
        variants.append((f'{name}_s{seed}', copy))
    return variants


def expand_stages(raw_stages, settings: Dict[str, Any],
                  source: str = 'experiment') -> List[StageSpec]:
    """Expand ``foreach`` and ``seeds``, resolve settings, check names and
    references.

    Args:
        raw_stages (list[dict]): The ``stages`` of an experiment file.
        settings (dict): Its other top-level names (``seeds`` repeats the
            trained networks, see the module docstring).
        source (str): File name for error messages.

    Returns:
        list[StageSpec]: Stages in run order.
    """
    if not isinstance(raw_stages, (list, tuple)) or not raw_stages:
        raise ValueError(f'{source}: `stages` must be a non-empty list of '
                         'dicts')
    seeds = check_seeds(settings.get(SEEDS), source)
    repeated: set = set()  # names of the stages repeated per seed
    stages: List[StageSpec] = []
    for index, raw in enumerate(raw_stages):
        where = f'{source}: stage {index} ({raw.get("name", "?")})'
        if not isinstance(raw, dict) or 'name' not in raw or 'type' not in raw:
            raise ValueError(f'{where}: every stage is a dict with `name` '
                             f'and `type`, got {raw!r}')
        emitted: set = set()  # (name, body) of this stage's expansions
        for combo in _expand_foreach(raw, settings, where):

            def resolve(path, combo=combo):
                head = path.split('.', 1)[0]
                if head in combo:
                    return lookup(combo, path)
                return lookup(settings, path)

            body = substitute(
                {k: v for k, v in raw.items() if k != 'foreach'}, resolve)
            name, stage_type = body.pop('name'), body.pop('type')
            where = f'{source}: stage {name!r}'
            # Combinations that use only some foreach variables (e.g. a data
            # stage per image count over [images, epochs] pairs) expand to
            # the same stage more than once: one stage, not a name clash.
            key = (name, repr(body))
            if key in emitted:
                continue
            emitted.add(key)
            if not isinstance(name, str) or not NAME.match(name):
                raise ValueError(f'{where}: a stage name must be letters, '
                                 'digits, `_`, `-`, `.` (it names a folder)')
            for name, body in _seed_variants(name, stage_type, body, seeds,
                                             repeated, where):
                stages.append(_checked_stage(name, stage_type, body, stages,
                                             settings, source))
    return stages


def _checked_stage(name: str, stage_type: str, body: dict,
                   stages: List[StageSpec], settings: Dict[str, Any],
                   source: str) -> StageSpec:
    """One expanded stage, its name, parameters and references checked
    against the stages before it."""
    where = f'{source}: stage {name!r}'
    if any(s.name == name for s in stages):
        raise ValueError(f'{where}: two stages have this name (a foreach '
                         'stage must use its variables in its name)')
    if name in settings:
        raise ValueError(f'{where}: a setting has the same name; '
                         '${' + name + '.…} would be ambiguous')
    body = expand_patterns(body, [s.name for s in stages], where)
    check_params(stage_type, body, where)
    deps = []
    for ref in references(body):
        head = ref.split('.', 1)[0]
        if not any(s.name == head for s in stages):
            raise ValueError(
                f'{where}: ${{{ref}}} names no setting, foreach variable or '
                f'earlier stage {head!r}')
        if head not in deps:
            deps.append(head)
    return StageSpec(name, stage_type, body, deps)


def load_experiment(path: str,
                    overrides: Optional[Dict[str, Any]] = None,
                    work_dir: Optional[str] = None) -> Experiment:
    """Load an experiment file.

    Args:
        path (str): The ``.py`` experiment file.
        overrides (dict, optional): ``key=value`` overrides of settings (as
            ``--cfg-options``: dotted keys reach into dicts).
        work_dir (str, optional): Overrides the file's ``work_dir``.

    Returns:
        Experiment: Settings and expanded stages.
    """
    from mmengine.config import Config
    if not osp.isfile(path):
        raise FileNotFoundError(f'experiment file not found: {path}')
    cfg = Config.fromfile(path)
    if overrides:
        unknown = [k for k in overrides
                   if k.split('.', 1)[0] not in cfg and k not in RESERVED
                   and k != SEEDS]
        if unknown:
            raise ValueError(f'{path}: override(s) {unknown} name no '
                             f'setting of the experiment; settings: '
                             f'{sorted(k for k in cfg if k not in RESERVED)}')
        cfg.merge_from_dict(overrides)
    data = cfg.to_dict()
    if 'stages' not in data:
        raise ValueError(f'{path}: an experiment file needs a `stages` list')
    name = osp.splitext(osp.basename(path))[0]
    settings = {k: v for k, v in data.items() if k not in RESERVED}
    settings = substitute(settings, lambda p: lookup(settings, p))
    stages = expand_stages(data['stages'], settings, path)
    return Experiment(
        name=name,
        path=osp.abspath(path),
        work_dir=work_dir or data.get('work_dir')
        or osp.join('work_dirs', 'experiments', name),
        settings=settings,
        stages=stages)
