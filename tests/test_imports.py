"""The package's modules import each other without cycles (issue 23, item 9).

Every ``import`` statement of every module under ``cf_mm/`` is read with
``ast`` (module-level and inside functions: a lazy import is still a
dependency), and the graph of cf_mm-internal dependencies is searched for
strongly connected components. ``import cf_mm`` itself (done lazily where a
config must find cf_mm's registered types) is not an edge: it registers,
it is not used as a module.
"""
import ast
import os
import os.path as osp

from tests.conftest import REPO

PACKAGE = 'cf_mm'


def package_modules() -> dict:
    """Module name -> file of every module of cf_mm."""
    modules = {}
    for folder, _, files in os.walk(osp.join(REPO, PACKAGE)):
        for name in files:
            if name.endswith('.py'):
                path = osp.join(folder, name)
                module = osp.relpath(path, REPO)[:-3].replace(os.sep, '.')
                modules[module.removesuffix('.__init__')] = path
    return modules


def imported_modules(module: str, path: str, modules: dict) -> set:
    """The cf_mm modules ``module`` imports (the longest existing name)."""
    package = module if path.endswith('__init__.py') else \
        module.rsplit('.', 1)[0]
    names = []
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = package.split('.')[:len(package.split('.')) -
                                            node.level + 1]
                base = '.'.join(parts + ([node.module] if node.module
                                         else []))
            names += [f'{base}.{alias.name}' for alias in node.names]
            names.append(base)
    found = set()
    for name in names:
        while name and name not in modules:
            name = name.rpartition('.')[0]
        if name and name not in (module, PACKAGE):
            found.add(name)
    return found


def cycles(graph: dict) -> list:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                succ = stack.pop()
                on_stack.discard(succ)
                component.append(succ)
                if succ == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return out


def test_cycle_finder_finds_a_cycle():
    assert cycles({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == [
        ['a', 'b', 'c']]
    assert cycles({'a': {'b'}, 'b': set()}) == []


def test_no_import_cycles_in_the_package():
    modules = package_modules()
    graph = {m: imported_modules(m, p, modules) for m, p in modules.items()}
    # The video extractor depends on the image one, not both ways.
    assert 'cf_mm.features.extract' in graph['cf_mm.features.video']
    assert 'cf_mm.features.video' not in graph['cf_mm.features.extract']
    assert cycles(graph) == []


def test_video_kind_is_registered_when_extract_is_imported_first():
    """A fresh interpreter that imports only the image extractor still
    extracts video models with the clip-averaging extractor."""
    import subprocess
    import sys
    code = ('from cf_mm.features.extract import MODEL_KINDS; '
            'print([(k.name, k.extractor.__name__) for k in MODEL_KINDS])')
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO,
                         capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=REPO)).stdout
    assert out.strip() == "[('video', 'ClipAveragingExtractor')]"
