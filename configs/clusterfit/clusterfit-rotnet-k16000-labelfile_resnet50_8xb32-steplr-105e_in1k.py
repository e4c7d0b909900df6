# Table 7 (K sweep), K = 16000: the N_cf of
# clusterfit-rotnet-k16000_resnet50_8xb32-steplr-105e_in1k.py trained on a
# label set made offline, so that the three N_cf of the sweep (K = 1000,
# 4000, 16000; the sibling *-k1000-labelfile_* / *-k4000-labelfile_* configs)
# are clustered from one extraction of N_pre's res5 features. Each N_cf is a
# separate ResNet-50 with one K-way linear layer, trained from scratch as in
# the paper (not the multi-K multi-task network of
# clusterfit-multik-multitask-rotnet-k1000-4000-16000_*, whose numbers are
# not Table 7's). Make the label sets, then train each N_cf:
#   python tools/extract_features.py \
#       configs/rotnet/rotnet_resnet50_8xb32-steplr-105e_in1k.py \
#       work_dirs/rotnet_resnet50_8xb32-steplr-105e_in1k/epoch_105.pth \
#       --data-config configs/clusterfit/clusterfit-rotnet-k16000_resnet50_8xb32-steplr-105e_in1k.py \
#       --layers res5 --out-dir work_dirs/clusterfit-rotnet-k1000-4000-16000/features
#   python tools/cluster.py work_dirs/clusterfit-rotnet-k1000-4000-16000/features/res5 \
#       -k 1000,4000,16000 --num-iters 20 --seed 0 \
#       --out-dir work_dirs/clusterfit-rotnet-k1000-4000-16000
#   python tools/train.py configs/clusterfit/clusterfit-rotnet-k1000-labelfile_resnet50_8xb32-steplr-105e_in1k.py
#   (and k4000, k16000)
# The extraction sees the N_cf's training images in its order under the
# test pipeline, as the hook of the base config does; tools/cluster.py
# writes <out-dir>/k<K>/labels.npy, the label set each config reads.
_base_ = ['./clusterfit-rotnet-k16000_resnet50_8xb32-steplr-105e_in1k.py']

num_clusters = 16000
label_files = 'work_dirs/clusterfit-rotnet-k1000-4000-16000/k16000'
model = dict(head=dict(num_classes=num_clusters))
data_preprocessor = dict(num_classes=num_clusters)
train_dataloader = dict(
    dataset=dict(label_files=label_files, num_clusters=num_clusters))
custom_hooks = []  # the labels come from label_files
