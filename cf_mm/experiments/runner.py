"""Run the stages of an experiment: cached, resumable, quiet.

Every stage runs in its own work dir ``<experiment work_dir>/<stage name>``.
When it returns, the runner writes ``stage.json`` there (atomically): the
stage's *fingerprint*, its outputs, a run id, its time and the load average.
The fingerprint hashes the stage type, its parameters after resolving
references, the defaults of the parameters it leaves out (so changing a
stage function's default reruns the stages that used it), and the run ids
of the stages it refers to. On the next run a
stage whose ``stage.json`` has the same fingerprint is skipped and its saved
outputs are used; any other stage (never finished, interrupted, changed, or
downstream of a stage that ran again) gets a clean work dir and runs.

While a stage runs, everything written to stdout/stderr (mmengine's logger,
progress bars, warnings, C libraries) goes to ``<stage>/stage.log``; the
console gets one line per stage with its time. If a stage fails, the tail of
its log is shown and :class:`ExperimentError` names the stage and the log;
Ctrl-C ends the run with one line (:class:`ExperimentInterrupted`): rerun
the same command to continue.

Every stage is decided on and run under its own lock
(``<work dir>/.locks/<stage>.lock``, :class:`cf_mm.utils.lock.DirLock`):
a second run in the same work dir reuses what is finished, and stops,
naming the holder, at a stage that another run is running, before touching
its folder. Runs that share a work dir but not their stages (e.g. seeds
``[1]`` and ``[2]`` of one experiment after the shared stages are done)
can so run side by side.
"""
import contextlib
import datetime
import hashlib
import inspect
import json
import os
import os.path as osp
import platform
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional

from .registry import STAGES
from .spec import Experiment, StageSpec, lookup, references, substitute

STAGE_FILE = 'stage.json'
LOG_FILE = 'stage.log'
SUMMARY_FILE = 'experiment.json'
LOCK_DIR = '.locks'  # one lock per stage: <work dir>/.locks/<stage>.lock
_MISSING = object()


class ExperimentError(RuntimeError):
    """A stage failed or could not be prepared (one-line message)."""


class ExperimentInterrupted(ExperimentError):
    """The run was interrupted (Ctrl-C); rerunning continues it."""


@dataclass
class StageContext:
    """What a stage function gets besides its parameters.

    Attributes:
        name (str): The stage's name.
        work_dir (str): Its own, empty work dir (absolute); outputs go here.
        experiment_dir (str): The experiment's work dir (absolute).
        settings (dict): The experiment's settings.
        history (list[dict]): ``stage.json`` records of the stages before
            this one in this run (name, type, seconds, cached, load, ...).
    """
    name: str
    work_dir: str
    experiment_dir: str
    settings: Dict[str, Any] = field(default_factory=dict)
    history: List[dict] = field(default_factory=list)

    def path(self, *parts: str) -> str:
        """A path inside the stage's work dir."""
        return osp.join(self.work_dir, *parts)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if hasattr(obj, 'item'):  # numpy scalars
        return obj.item()
    return str(obj)


def write_json(path: str, data) -> None:
    """Write JSON through a temporary file and an atomic rename."""
    tmp = f'{path}.tmp-{os.getpid()}'
    with open(tmp, 'w') as f:
        json.dump(_jsonable(data), f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: str) -> Optional[dict]:
    """A JSON file's content, or None if it is missing or unreadable."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def stage_defaults(stage_type: str, params: dict) -> dict:
    """Default values of the stage function's parameters that ``params``
    leaves out (part of the fingerprint: a changed default reruns the
    stages that relied on it)."""
    fn = STAGES.get(stage_type)
    if fn is None:
        return {}
    # A trained stage's `seed=None` (the config's own seed) is left out, so
    # that stages fingerprinted before seeds existed stay reusable.
    return {
        name: p.default
        for name, p in inspect.signature(fn).parameters.items()
        if p.default is not inspect.Parameter.empty and name not in params
        and not (name == 'seed' and p.default is None)
    }


def fingerprint(stage: StageSpec, params: dict,
                records: Dict[str, dict]) -> str:
    """Hash of what determines a stage's outputs: its type, its resolved
    parameters, the defaults of the parameters it leaves out, and the run
    ids of the stages it uses."""
    key = dict(type=stage.type, params=_jsonable(params),
               defaults=_jsonable(stage_defaults(stage.type, params)),
               deps={d: records[d]['run_id'] for d in stage.deps})
    text = json.dumps(key, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def resolve_params(stage: StageSpec, outputs: Dict[str, dict]) -> dict:
    """The stage's parameters with earlier stages' outputs filled in."""

    def resolve(path):
        head, _, rest = path.partition('.')
        if head not in outputs:
            return _MISSING
        value = lookup(outputs[head], rest) if rest else outputs[head]
        return value

    params = substitute(stage.params, resolve)
    left = references(params)
    if left:
        raise ExperimentError(
            f'stage {stage.name!r}: cannot resolve ${{{left[0]}}} (stage '
            f'{left[0].split(".")[0]!r} has outputs '
            f'{sorted(outputs.get(left[0].split(".")[0], {}))})')
    return params


@contextlib.contextmanager
def captured_output(log_path: str):
    """Send stdout and stderr (Python and file descriptors 1, 2) to a file.

    Child processes started inside (dataloader workers) inherit the file.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    with open(log_path, 'a', buffering=1) as log:
        saved = []
        for fd in (1, 2):
            try:
                saved.append((fd, os.dup(fd)))
                os.dup2(log.fileno(), fd)
            except OSError:
                pass
        try:
            with contextlib.redirect_stdout(log), \
                    contextlib.redirect_stderr(log):
                yield log
        finally:
            log.flush()
            for fd, copy in saved:
                os.dup2(copy, fd)
                os.close(copy)


def _console_stream():
    """A stream on the original stdout, immune to later redirection."""
    try:
        return os.fdopen(os.dup(sys.stdout.fileno()), 'w', buffering=1)
    except (AttributeError, OSError, ValueError):
        return sys.stdout


def _tail(path: str, lines: int = 25) -> str:
    try:
        with open(path, errors='replace') as f:
            return ''.join(f.readlines()[-lines:])
    except OSError:
        return ''


def machine_description() -> str:
    """CPU model and count, GPU or not, torch version."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import torch
        gpu = (torch.cuda.get_device_name(0)
               if torch.cuda.is_available() else 'no GPU')
        torch_version = f', torch {torch.__version__}, ' \
            f'{torch.get_num_threads()} torch threads'
    except ImportError:  # pragma: no cover
        gpu, torch_version = 'no GPU', ''
    return f'{os.cpu_count()} CPU cores ({cpu}), {gpu}{torch_version}'


def _load() -> List[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover
        return []


class ExperimentRunner:
    """Runs an :class:`~cf_mm.experiments.spec.Experiment`.

    Args:
        experiment (Experiment): The loaded experiment.
        force (bool): Run every stage again.
        rerun (Iterable[str]): Names of stages to run again (stages that
            depend on them run again too).
        console (callable, optional): Receives the console lines (default:
            the process's stdout).
    """

    def __init__(self, experiment: Experiment, force: bool = False,
                 rerun: Iterable[str] = (),
                 console: Optional[Callable[[str], None]] = None):
        self.experiment = experiment
        self.force = force
        self.rerun = set(rerun)
        unknown = self.rerun - {s.name for s in experiment.stages}
        if unknown:
            raise ExperimentError(f'--rerun names unknown stage(s) '
                                  f'{sorted(unknown)}')
        self.root = osp.abspath(experiment.work_dir)
        if console is None:
            stream = _console_stream()
            console = lambda line: print(line, file=stream, flush=True)  # noqa
        self.console = console

    def stage_status(self) -> List[str]:
        """``'done'`` / ``'pending'`` of every stage as a dry run sees it."""
        outputs: Dict[str, dict] = {}
        records: Dict[str, dict] = {}
        status = []
        for stage in self.experiment.stages:
            record = read_json(osp.join(self.root, stage.name, STAGE_FILE))
            try:
                params = resolve_params(stage, outputs)
                done = (record is not None and not self.force
                        and stage.name not in self.rerun
                        and all(d in records for d in stage.deps)
                        and record.get('fingerprint') == fingerprint(
                            stage, params, records))
            except ExperimentError:
                done = False
            status.append('done' if done else 'pending')
            if done:
                outputs[stage.name] = record['outputs']
                records[stage.name] = record
        return status

    def run(self) -> Dict[str, dict]:
        """Run (or skip) every stage in order.

        Returns:
            dict: Stage name -> its outputs.
        """
        exp = self.experiment
        os.makedirs(self.root, exist_ok=True)
        start = time.time()
        summary = dict(experiment=exp.path, work_dir=self.root,
                       command=' '.join(sys.argv), machine=machine_description(),
                       started=datetime.datetime.now().isoformat(
                           timespec='seconds'),
                       load_start=_load(), stages=[])
        self.console(f'[{exp.name}] {len(exp.stages)} stages, work dir '
                     f'{self.root}')
        outputs: Dict[str, dict] = {}
        records: Dict[str, dict] = {}
        for index, stage in enumerate(exp.stages):
            record = self._run_stage(index, stage, outputs, records,
                                     summary['stages'])
            outputs[stage.name] = record['outputs']
            records[stage.name] = record
            summary['stages'].append(
                {k: record[k] for k in ('name', 'type', 'seconds', 'cached',
                                        'load_start', 'load_end', 'run_id',
                                        'finished')})
            summary['seconds'] = time.time() - start
            write_json(osp.join(self.root, SUMMARY_FILE), summary)
        summary.update(finished=datetime.datetime.now().isoformat(
            timespec='seconds'), load_end=_load(),
            seconds=time.time() - start)
        write_json(osp.join(self.root, SUMMARY_FILE), summary)
        ran = sum(not s['cached'] for s in summary['stages'])
        self.console(f'[{exp.name}] done in {_duration(summary["seconds"])} '
                     f'({ran} stages ran, {len(exp.stages) - ran} reused)')
        return outputs

    def _run_stage(self, index: int, stage: StageSpec,
                   outputs: Dict[str, dict], records: Dict[str, dict],
                   history: List[dict]) -> dict:
        from cf_mm.utils.lock import DirLock, LockHeldError
        lock = DirLock(osp.join(self.root, LOCK_DIR),
                       purpose=f'stage {stage.name}',
                       name=f'{stage.name}.lock')
        try:
            lock.acquire()
        except LockHeldError as err:
            raise ExperimentError(
                f'stage {stage.name!r} is being run by another run of this '
                f'experiment: {err}') from None
        try:
            return self._run_locked_stage(index, stage, outputs, records,
                                          history)
        finally:
            lock.release()

    def _run_locked_stage(self, index: int, stage: StageSpec,
                          outputs: Dict[str, dict], records: Dict[str, dict],
                          history: List[dict]) -> dict:
        total = len(self.experiment.stages)
        label = f'{index + 1:>{len(str(total))}}/{total} {stage.name} ' \
            f'({stage.type})'
        params = resolve_params(stage, outputs)
        key = fingerprint(stage, params, records)
        work_dir = osp.join(self.root, stage.name)
        stage_file = osp.join(work_dir, STAGE_FILE)
        saved = read_json(stage_file)
        if (saved is not None and saved.get('fingerprint') == key
                and not self.force and stage.name not in self.rerun):
            self.console(f'  {label}: reused ({_duration(saved["seconds"])} '
                         'when it ran)')
            return dict(saved, cached=True)
        if osp.isdir(work_dir):
            shutil.rmtree(work_dir)  # a partial, changed or forced stage
        os.makedirs(work_dir)
        log_path = osp.join(work_dir, LOG_FILE)
        ctx = StageContext(name=stage.name, work_dir=work_dir,
                           experiment_dir=self.root,
                           settings=self.experiment.settings,
                           history=list(history))
        fn = STAGES.get(stage.type)
        load_start, tic = _load(), time.time()
        try:
            with captured_output(log_path):
                print(f'stage {stage.name} ({stage.type}), parameters:\n'
                      + json.dumps(_jsonable(params), indent=2), flush=True)
                result = fn(ctx, **params)
        except KeyboardInterrupt:
            self.console(f'  {label}: interrupted after '
                         f'{_duration(time.time() - tic)}')
            raise ExperimentInterrupted(
                f'interrupted in stage {stage.name!r}; rerun the same '
                'command to continue (finished stages are reused, this one '
                f'starts again; its log so far: {log_path})') from None
        except BaseException as err:
            self.console(f'  {label}: FAILED after '
                         f'{_duration(time.time() - tic)}; last lines of '
                         f'{log_path}:\n{_tail(log_path)}')
            if isinstance(err, Exception):
                raise ExperimentError(
                    f'stage {stage.name!r} ({stage.type}) failed: '
                    f'{type(err).__name__}: {err} (log: {log_path})') from err
            raise
        if result is None:
            result = {}
        if not isinstance(result, dict):
            raise ExperimentError(f'stage type {stage.type!r} returned '
                                  f'{type(result).__name__}, not a dict of '
                                  'outputs')
        seconds = time.time() - tic
        record = dict(
            name=stage.name, type=stage.type, fingerprint=key,
            run_id=uuid.uuid4().hex, outputs=dict(result, work_dir=work_dir),
            params=params, seconds=seconds, load_start=load_start,
            load_end=_load(), finished=datetime.datetime.now().isoformat(
                timespec='seconds'))
        write_json(stage_file, record)
        self.console(f'  {label}: {_duration(seconds)} (load '
                     f'{_fmt_load(load_start)} -> {_fmt_load(record["load_end"])})')
        return dict(read_json(stage_file), cached=False)


def _duration(seconds: float) -> str:
    seconds = float(seconds)
    if seconds < 60:
        return f'{seconds:.1f} s'
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f'{minutes} min {sec:02d} s'
    hours, minutes = divmod(minutes, 60)
    return f'{hours} h {minutes:02d} min'


def _fmt_load(load: List[float]) -> str:
    return f'{load[0]:.1f}' if load else '?'


def run_experiment(path: str,
                   overrides: Optional[Dict[str, Any]] = None,
                   work_dir: Optional[str] = None,
                   force: bool = False,
                   rerun: Iterable[str] = (),
                   console: Optional[Callable[[str], None]] = None
                   ) -> Dict[str, dict]:
    """Load an experiment file and run it.

    Args:
        path (str): The experiment file.
        overrides (dict, optional): Setting overrides (dotted keys).
        work_dir (str, optional): Overrides the file's ``work_dir``.
        force (bool): Run every stage again.
        rerun (Iterable[str]): Stages to run again.
        console (callable, optional): Receives the console lines.

    Returns:
        dict: Stage name -> outputs.
    """
    from .spec import load_experiment
    experiment = load_experiment(path, overrides, work_dir)
    return ExperimentRunner(experiment, force, rerun, console).run()


def stage_records(experiment: Experiment) -> List[Optional[dict]]:
    """The saved ``stage.json`` of every stage (None where there is none)."""
    root = osp.abspath(experiment.work_dir)
    return [read_json(osp.join(root, s.name, STAGE_FILE))
            for s in experiment.stages]
