"""classifier_accuracy: did a network learn its own task?"""
import numpy as np
import torch
import torch.nn as nn

from cf_mm.experiments.stages.learning import fit_metrics, predict_split


def test_fit_metrics_against_a_loop():
    rng = np.random.default_rng(0)
    clean = rng.integers(0, 6, 500)
    noisy = clean.copy()
    flip = rng.random(500) < 0.5
    noisy[flip] = (clean[flip] + rng.integers(1, 6, flip.sum())) % 6
    pred = np.where(rng.random(500) < 0.7, noisy, clean)
    got = fit_metrics(pred, clean, noisy)
    fit = sum(p == n for p, n in zip(pred, noisy)) / 500
    clean_acc = sum(p == c for p, c in zip(pred, clean)) / 500
    replaced = [i for i in range(500) if noisy[i] != clean[i]]
    memorised = sum(pred[i] == noisy[i] for i in replaced) / len(replaced)
    assert got['fit_top1'] == 100 * fit
    assert got['train_clean_top1'] == 100 * clean_acc
    assert got['memorised'] == 100 * memorised
    assert set(fit_metrics(clean, clean)) == {'fit_top1', 'train_clean_top1'}


class _Preprocessor(nn.Module):
    def forward(self, batch, training=False):
        return dict(inputs=batch['inputs'].float())


class _Toy(nn.Module):
    """Predicts the rotation of a 2x2 image whose top-left pixel is 1."""

    def __init__(self):
        super().__init__()
        self.data_preprocessor = _Preprocessor()
        self.backbone = nn.Flatten()
        self.neck = None
        self.head = nn.Identity()

    def forward(self, x):  # unused
        raise AssertionError


def test_predict_split_rotation_task():
    # image with a 1 in the top-left corner: rot90 (counter-clockwise) by k
    # moves it to a known corner; the "head" logits are the 4 pixels in the
    # order that makes argmax == k.
    img = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    order = [torch.rot90(img, k, (1, 2)).flatten().argmax().item()
             for k in range(4)]

    class Head(nn.Module):
        def forward(self, feats):
            return feats[:, order]

    model = _Toy()
    model.head = Head()
    view = [dict(inputs=img) for _ in range(5)]
    pred = predict_split(model, view, 'rotation', batch_size=2,
                         num_workers=0)
    assert pred.shape == (5, 4)
    assert (pred == np.arange(4)).all()


def test_fit_table_shows_each_metric_mean_over_seeds():
    """The report's "did each network learn" table: each cell is the mean
    over seeds of that method's metric (a known answer per cell)."""
    from cf_mm.experiments.stages.report import fit_lines
    records = []
    for seed, (fit, held) in enumerate([(90.0, 40.0), (94.0, 44.0)]):
        for metric, value in (('fit_top1', fit), ('heldout_top1', held)):
            records.append(dict(method='N_pre p=50', target='animals',
                                layer='head', metric=metric, value=value,
                                seed=seed))
    records.append(dict(method='N_pre p=50', target='animals', layer='res5',
                        metric='top1', value=10.0, seed=0))  # not a fit row
    text = '\n'.join(fit_lines(records))
    row = next(line for line in text.splitlines()
               if line.startswith('| N_pre p=50 |'))
    cells = [c.strip(' *') for c in row.strip('|').split('|')][1:]
    assert len(cells) == 2
    # mean ± t(0.975, 1) * sd / sqrt(2) = 12.706 * 2.828 / 1.414 = 25.4
    assert cells == ['92.0 ± 25.4', '42.0 ± 25.4']


def test_report_fit_table_shows_each_metric_over_seeds():
    """The report's own-task table: one column per metric, each cell the
    mean ± 95 % t half-width over seeds (scipy), '-' only where a metric
    is missing."""
    from scipy import stats

    from cf_mm.experiments.stages.report import fit_lines
    values = {  # (method, metric) -> value per seed
        ('N_pre', 'fit_top1'): [90.0, 94.0, 95.0],
        ('N_pre', 'heldout_top1'): [50.0, 52.0, 57.0],
        ('RotNet', 'heldout_top1'): [41.0, 40.0, 45.5],
    }
    records = [dict(method=m, target='D', layer='head', metric=k, value=v,
                    seed=s) for (m, k), vs in values.items()
               for s, v in enumerate(vs)]
    lines = '\n'.join(fit_lines(records))

    def cell(vs):
        x = np.asarray(vs)
        half = stats.t.ppf(0.975, 2) * stats.sem(x)
        return f'{x.mean():.1f} ± {half:.1f}'

    fit = values[('N_pre', 'fit_top1')]
    held = values[('N_pre', 'heldout_top1')]
    assert '| Method | own training labels | held-out images |' in lines
    assert f'| N_pre | **{cell(fit)}** | **{cell(held)}** |' in lines
    assert f'| RotNet | - | {cell(values[("RotNet", "heldout_top1")])} |' \
        in lines
