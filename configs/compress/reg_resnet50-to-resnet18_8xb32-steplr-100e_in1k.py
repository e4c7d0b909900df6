# Reg baseline of CompRess (section 4.2, appendix): the ResNet-18 student,
# through a linear head to the teacher's 2048 dims, regresses the teacher's
# embedding (mean squared error). Appendix: Adam lr 0.001, weight decay
# 1e-4, batch 256, 100 epochs, lr x0.1 at 40 and 80.
_base_ = ['./reg-bn_resnet50-to-resnet18_8xb32-steplr-100e_in1k.py']

model = dict(batch_norm=False)
optim_wrapper = dict(
    optimizer=dict(
        _delete_=True, type='Adam', lr=0.001, weight_decay=1e-4))
