"""Install cf_mm: ``pip install -e .[tests]`` (see README for the full set-up)."""
from setuptools import find_packages, setup

# Ranges chosen so that a fresh machine resolves to a working stack:
# torch>=2.14 skips the local CPU-only 2.13 wheel that no torchvision supports;
# mmengine 0.10.7 is the last release; mmcv-lite<2.1 also satisfies mmaction2 1.1.0;
# mmengine imports pkg_resources, which setuptools 82 removed.
INSTALL_REQUIRES = [
    'torch>=2.14,<3',
    'torchvision>=0.29,<1',
    'mmengine==0.10.7',
    'mmpretrain==1.2.0',
    'mmcv-lite>=2.0.1,<2.1.0',
    'numpy>=2,<3',
    'faiss-cpu>=1.8',
    'scipy>=1.10',
    'scikit-learn>=1.3',
    'matplotlib>=3.7',
    'setuptools<82',
]

EXTRAS_REQUIRE = {
    'tests': ['pytest>=7'],
    # faiss-gpu provides the same ``faiss`` module: uninstall faiss-cpu first.
    'gpu': ['faiss-gpu>=1.15.1'],
    # mmaction2 1.2.0 on PyPI lacks mmaction.models.localizers.drn; 1.1.0
    # needs mmcv<2.1 (mmcv-lite 2.0.1 above). decord (mmaction2's default
    # video reader, also its own requirement) decodes the clips.
    'video': ['mmaction2==1.1.0', 'decord>=0.6.0'],
}

setup(
    name='cf_mm',
    version='0.1.0',
    description='ClusterFit and companion methods as an mmpretrain extension',
    packages=find_packages(include=['cf_mm', 'cf_mm.*']),
    package_data={'cf_mm': ['data/*']},
    python_requires='>=3.9',
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
)
