"""Fixtures shared by the reliability tests."""
import pytest

from cf_mm.apis import train
from tests.reliability.helpers import clusterfit_cfg


@pytest.fixture(scope='session')
def finished_run(fmnist_root, rotnet_checkpoint, tmp_path_factory):
    """Work dir of one finished ClusterFit run (K=8, 200 images, 1 epoch:
    labels, summary and epoch_1.pth). Tests copy it before changing it."""
    work = tmp_path_factory.mktemp('finished_run')
    train(clusterfit_cfg(fmnist_root, rotnet_checkpoint, work))
    return work
