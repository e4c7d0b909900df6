"""k-means progress goes to the caller's logger, in one objective scale."""
import logging

import numpy as np
import pytest

from cf_mm.clustering import kmeans
from cf_mm.clustering.kmeans import choose_backend, resolve_init

from .gmm import make_gmm


@pytest.mark.parametrize('spherical', [True, False])
def test_faiss_iterations_are_logged_not_printed(spherical, capfd, caplog):
    """faiss prints nothing of its own; each iteration is one log line with
    the objective of the result (sum of squared L2 distances, also for
    spherical k-means, where faiss itself reports inner products)."""
    feats, _ = make_gmm(2000, 8, 16, seed=1, normalize=spherical)
    logger = logging.getLogger('kmeans-faiss-test')
    with caplog.at_level(logging.INFO, logger='kmeans-faiss-test'):
        result = kmeans(feats, 8, num_iters=5, backend='faiss',
                        spherical=spherical, verbose=True, logger=logger)
    out, err = capfd.readouterr()
    assert 'Iteration' not in out + err  # faiss's own verbose format
    lines = [r.message for r in caplog.records
             if r.message.startswith('k-means iteration')]
    assert len(lines) == len(result.objective) == 5
    for line, value in zip(lines, result.objective):
        assert f'objective={value:.6g}' in line
    # The first objective, computed here from the initial centroids: the
    # same scale (squared L2) with and without spherical.
    start = feats[np.random.default_rng(0).choice(len(feats), 8,
                                                  replace=False)]
    sq = ((feats[:, None, :] - start[None].astype(np.float64))**2).sum(2)
    assert result.objective[0] == pytest.approx(sq.min(axis=1).sum(),
                                                rel=1e-5)


def test_named_steps_validate_like_kmeans():
    assert choose_backend('auto', False) == 'faiss'
    assert choose_backend('auto', True) == 'torch'
    with pytest.raises(ValueError, match="'torch'"):
        choose_backend('faiss', True)
    assert resolve_init('random', None, False) == ('random', None)
    given = np.zeros((2, 3))
    kind, centroids = resolve_init(given, None, False)
    assert kind == 'array' and centroids is given
    with pytest.raises(ValueError, match='single-process'):
        resolve_init('k-means++', None, True)
