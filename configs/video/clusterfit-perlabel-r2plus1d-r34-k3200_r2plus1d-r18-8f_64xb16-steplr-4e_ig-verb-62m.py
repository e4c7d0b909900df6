# Per-label clustering of videos (section 5.2, Figure 6): as the section 5
# N_cf (R(2+1)D-34 N_pre, D_cf = IG-Verb-62M, R(2+1)D-18 on 8-frame clips),
# but the clip-averaged res5 features are clustered inside each weak verb
# tag (k-means per tag, k_l ~ sqrt(n_l), K in total). A video with several
# tags is clustered with the one tag picked for it at random (appendix C),
# the same pick as N_pre's label: the wrapped RandomTagVideoDataset (same
# `tag_seed`) hands the hook these (N,) labels. Figure 6 sweeps K; the
# unsupervised counterpart is the config without `perlabel`.
_base_ = ['./clusterfit-r2plus1d-r34-k3200_r2plus1d-r18-8f_64xb16-steplr-4e_ig-verb-62m.py']

custom_hooks = [dict(_base_.custom_hooks[0], method='per_label')]
