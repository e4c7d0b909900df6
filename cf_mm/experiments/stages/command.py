"""The ``command`` stage: run a program (e.g. a ``tools/*.py`` script).

An escape hatch for steps that exist as command-line tools: the program's
output goes to the stage log like any stage's, ``{work_dir}`` in the
arguments and in ``outputs`` becomes the stage's work dir, and every path
named in ``outputs`` must exist when the program ends.
"""
import os.path as osp
import subprocess
import sys
from typing import Dict, Optional, Sequence

from ..registry import STAGES


@STAGES.register_module('command')
def command_stage(ctx, argv: Sequence[str],
                  outputs: Optional[Dict[str, str]] = None) -> dict:
    """Run ``argv``; ``python`` as the first word is this interpreter.

    Args:
        ctx (StageContext): The stage's context.
        argv (Sequence[str]): Program and arguments.
        outputs (dict, optional): Output name -> path the program writes
            (``{work_dir}`` allowed); checked to exist.

    Returns:
        dict: ``outputs`` with ``{work_dir}`` filled in.
    """
    argv = [str(a).replace('{work_dir}', ctx.work_dir) for a in argv]
    if argv and argv[0] == 'python':
        argv[0] = sys.executable
    print('running: ' + ' '.join(argv), flush=True)
    code = subprocess.call(argv, stdout=sys.stdout.fileno(),
                           stderr=sys.stderr.fileno())
    if code != 0:
        raise RuntimeError(f'{argv[0]} exited with status {code}')
    result = {k: str(v).replace('{work_dir}', ctx.work_dir)
              for k, v in (outputs or {}).items()}
    missing = [p for p in result.values() if not osp.exists(p)]
    if missing:
        raise FileNotFoundError(f'the command did not write {missing}')
    return result
