# SL-MLP on pre-D for 300 epochs (Table 2, Figures 6-7).
_base_ = ['./sl-mlp_resnet50_8xb128-coslr-100e_in1k-pre-d.py']

epochs = 300
param_scheduler = dict(T_max=epochs, end=epochs)
train_cfg = dict(max_epochs=epochs)
