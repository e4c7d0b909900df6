# Table 7 (K sweep), K = 1000: one ResNet-50 N_cf trained from scratch on the
# K = 1000 label set of the sweep's one extraction (commands in
# clusterfit-rotnet-k16000-labelfile_resnet50_8xb32-steplr-105e_in1k.py).
_base_ = ['./clusterfit-rotnet-k16000-labelfile_resnet50_8xb32-steplr-105e_in1k.py']

num_clusters = 1000
label_files = 'work_dirs/clusterfit-rotnet-k1000-4000-16000/k1000'
model = dict(head=dict(num_classes=num_clusters))
data_preprocessor = dict(num_classes=num_clusters)
train_dataloader = dict(
    dataset=dict(label_files=label_files, num_clusters=num_clusters))
