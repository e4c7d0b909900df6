# The 300-epoch setting of section 5.2 (Table 2, Figures 6-7): the 100-epoch
# recipe, cosine over 300 epochs.
_base_ = ['./sl_resnet50_8xb128-coslr-100e_in1k.py']

epochs = 300
param_scheduler = dict(T_max=epochs, end=epochs)
train_cfg = dict(max_epochs=epochs)
