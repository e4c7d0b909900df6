"""The experiment runner: file format, references, skip / continue / rerun."""
import json
import os.path as osp

import pytest

from cf_mm.experiments import (STAGES, ExperimentError, ExperimentRunner,
                               load_experiment)

CALLS = []  # (stage name, value) of every stage function call


@STAGES.register_module('test_value', force=True)
def value_stage(ctx, value, fail_if=None):
    """Returns its value; fails while the file ``fail_if`` exists."""
    print(f'stage {ctx.name} computing {value!r}')  # must reach the log
    CALLS.append((ctx.name, value))
    with open(ctx.path('partial.txt'), 'w') as f:
        f.write('written before a possible failure')
    if fail_if and osp.exists(fail_if):
        raise RuntimeError(f'{ctx.name} interrupted')
    return dict(value=value, double=value * 2 if isinstance(value, int)
                else value)


def _write(tmp_path, text, name='exp.py'):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _run(path, tmp_path, lines=None, **overrides):
    exp = load_experiment(path, overrides or None,
                          work_dir=str(tmp_path / 'work'))
    console = lines.append if lines is not None else (lambda line: None)
    return exp, ExperimentRunner(exp, console=console).run()


EXPERIMENT = '''
base = 3
levels = [0, 50]
stop = '{stop}'
stages = [
    dict(name='a', type='test_value', value='${{base}}'),
    dict(name='b_${{p}}', type='test_value', foreach=dict(p='${{levels}}'),
         value='${{a.double}}'),
    dict(name='c', type='test_value', value='x${{b_50.value}}-${{base}}',
         fail_if='${{stop}}'),
    dict(name='d', type='test_value', value=['${{b_${{levels.0}}.value}}']),
]
'''


def test_spec_expands_foreach_and_resolves_references(tmp_path):
    path = _write(tmp_path, EXPERIMENT.format(stop=tmp_path / 'none'))
    exp = load_experiment(path)
    assert [s.name for s in exp.stages] == ['a', 'b_0', 'b_50', 'c', 'd']
    assert exp.stages[0].params == {'value': 3}  # typed, from a setting
    assert exp.stages[1].params == {'value': '${a.double}'}
    assert exp.stages[1].deps == ['a']
    assert exp.stages[4].params == {'value': ['${b_0.value}']}
    assert exp.work_dir == osp.join('work_dirs', 'experiments', 'exp')
    CALLS.clear()
    lines = []
    _, outputs = _run(path, tmp_path, lines)
    assert outputs['b_50']['value'] == 6 and outputs['c']['value'] == 'x6-3'
    assert outputs['d']['value'] == [6]
    assert outputs['a']['work_dir'] == str(tmp_path / 'work' / 'a')
    # Overrides reach every stage that refers to the setting.
    overridden = load_experiment(path, {'base': 5, 'levels': [50, 7]})
    assert [s.name for s in overridden.stages] == ['a', 'b_50', 'b_7', 'c',
                                                   'd']
    assert overridden.stages[0].params == {'value': 5}
    assert overridden.stages[4].params == {'value': ['${b_50.value}']}


@pytest.mark.parametrize('stages,message', [
    ("[dict(name='a', type='nope')]", "unknown stage type 'nope'"),
    ("[dict(name='a', type='test_value', value=1, colour=2)]",
     "unknown parameter(s) ['colour']"),
    ("[dict(name='a', type='test_value')]", "needs parameter(s) ['value']"),
    ("[dict(name='a', type='test_value', value='${b.value}'),"
     " dict(name='b', type='test_value', value=1)]",
     "names no setting, foreach variable or earlier stage 'b'"),
    ("[dict(name='a', type='test_value', value=1)] * 2",
     'two stages have this name'),
    ("[dict(name='a b', type='test_value', value=1)]", 'names a folder'),
    # One name for combinations that differ in what the stage does.
    ("[dict(name='a${c.0}', type='test_value', value='${c.1}',"
     " foreach=dict(c=[[1, 2], [1, 3]]))]", 'two stages have this name'),
])
def test_spec_errors_name_the_problem(tmp_path, stages, message):
    path = _write(tmp_path, f'stages = {stages}\n')
    with pytest.raises(ValueError) as err:
        load_experiment(path)
    assert message in str(err.value)
    with pytest.raises(ValueError, match=r"override\(s\) \['nope'\]"):
        load_experiment(_write(tmp_path, 'x = 1\nstages = []\n', 'o.py'),
                        {'nope': 1})


def test_interrupted_experiment_continues_and_changes_rerun(tmp_path):
    stop = tmp_path / 'stop'
    stop.write_text('')
    path = _write(tmp_path, EXPERIMENT.format(stop=stop))
    work = tmp_path / 'work'

    CALLS.clear()
    lines = []
    with pytest.raises(ExperimentError, match=r"stage 'c' .* c interrupted"):
        _run(path, tmp_path, lines)
    assert [name for name, _ in CALLS] == ['a', 'b_0', 'b_50', 'c']
    assert (work / 'c' / 'partial.txt').exists()
    assert not (work / 'c' / 'stage.json').exists()
    assert any('FAILED' in line for line in lines)

    # Continue: finished stages are reused, the interrupted one runs from a
    # clean work dir.
    stop.unlink()
    CALLS.clear()
    lines = []
    _run(path, tmp_path, lines)
    assert [name for name, _ in CALLS] == ['c', 'd']
    assert sum(': reused' in line for line in lines) == 3
    # One console line per stage (plus header and footer), stage output in
    # the stage's log only.
    assert len(lines) == 5 + 2
    assert not any('computing' in line for line in lines)
    assert "stage c computing 'x6-3'" in (work / 'c' / 'stage.log').read_text()

    # Nothing changed: nothing runs.
    CALLS.clear()
    _run(path, tmp_path)
    assert CALLS == []

    # A changed setting reruns the stages that use it, directly or through
    # outputs ('a' -> 'b_*' -> 'c', 'd'), and only those.
    CALLS.clear()
    _run(path, tmp_path, base=4)
    assert [name for name, _ in CALLS] == ['a', 'b_0', 'b_50', 'c', 'd']
    CALLS.clear()
    text = EXPERIMENT.format(stop=stop).replace("value='x$", "value='y$")
    _run(_write(tmp_path, text), tmp_path, base=4)
    assert CALLS == [('c', 'y8-4')]

    # A stage that ran again (forced) makes its users run again too.
    exp = load_experiment(path, {'base': 4}, work_dir=str(work))
    assert ExperimentRunner(exp, console=lambda _: None).stage_status() == [
        'done'] * 5
    CALLS.clear()
    ExperimentRunner(exp, rerun=['b_0'], console=lambda _: None).run()
    assert [name for name, _ in CALLS] == ['b_0', 'd']  # c uses b_50 only
    summary = json.loads((work / 'experiment.json').read_text())
    assert [s['cached'] for s in summary['stages']] == [True, False, True,
                                                        True, False]
    record = json.loads((work / 'd' / 'stage.json').read_text())
    assert record['params'] == {'value': [8]}
    assert set(record) >= {'fingerprint', 'run_id', 'outputs', 'seconds',
                           'load_start', 'load_end'}


def test_changed_default_reruns_the_stages_that_rely_on_it(tmp_path):
    path = _write(tmp_path, """
stages = [
    dict(name='given', type='test_default', value=1, scale=2),
    dict(name='defaulted', type='test_default', value=1),
]
""")

    def register(default):
        @STAGES.register_module('test_default', force=True)
        def default_stage(ctx, value, scale=default):
            CALLS.append((ctx.name, value * scale))
            return dict(result=value * scale)

    register(10)
    CALLS.clear()
    _run(path, tmp_path)
    assert CALLS == [('given', 2), ('defaulted', 10)]
    CALLS.clear()
    _run(path, tmp_path)
    assert CALLS == []
    register(100)  # the stage function's default changes
    CALLS.clear()
    _run(path, tmp_path)
    assert CALLS == [('defaulted', 100)]  # 'given' set scale itself


def test_command_stage_output_goes_to_the_log(tmp_path):
    path = _write(tmp_path, '''
stages = [dict(name='cmd', type='command',
               argv=['python', '-c', 'import sys; print("hello"); '
                     'open(sys.argv[1], "w").write("x")',
                     '{work_dir}/out.txt'],
               outputs=dict(out='{work_dir}/out.txt'))]
''')
    lines = []
    _, outputs = _run(path, tmp_path, lines)
    assert outputs['cmd']['out'] == str(tmp_path / 'work' / 'cmd' / 'out.txt')
    assert 'hello' in (tmp_path / 'work' / 'cmd' / 'stage.log').read_text()
    assert not any('hello' in line for line in lines)


def test_foreach_combinations_giving_one_stage_make_it_once(tmp_path):
    """A data stage per image count over [images, epochs] pairs: the pairs
    sharing a count expand to one stage (the pilot file's case)."""
    path = _write(tmp_path, (
        "pairs = [[150, 60], [150, 120], [300, 30]]\n"
        "stages = [dict(name='data_n${c.0}', type='test_value',"
        " value='${c.0}', foreach=dict(c='${pairs}')),\n"
        "          dict(name='train_n${c.0}_e${c.1}', type='test_value',"
        " value='${data_n${c.0}.value}', foreach=dict(c='${pairs}'))]\n"))
    names = [s.name for s in load_experiment(path).stages]
    assert names == ['data_n150', 'data_n300', 'train_n150_e60',
                     'train_n150_e120', 'train_n300_e30']


def test_report_load_covers_reused_stages():
    """The report's load range covers every stage's own run: a last run that
    only reuses stages (load 0.5 now) must not report its own load."""
    from cf_mm.experiments.stages.report import run_lines
    history = [
        dict(name='train', type='train', seconds=600.0, cached=True,
             load_start=[3.5, 3.0, 2.0], load_end=[4.2, 3.1, 2.0],
             finished='2026-12-06T16:00:00'),
        dict(name='probe', type='linear_probe_cached', seconds=20.0,
             cached=True, load_start=[2.5, 2.0, 2.0],
             load_end=[2.1, 2.0, 2.0], finished='2026-12-06T16:01:00'),
        dict(name='report', type='report', seconds=0.1,
             load_start=[0.5, 1.0, 1.0], load_end=[0.5, 1.0, 1.0],
             finished='2026-12-06T17:00:00'),
    ]
    summary = run_lines(history)[1]
    assert summary == ('Stage times sum to 10 min 20 s; 1-minute load '
                       'average between 0.5 and 4.2 while stages ran.')
