# Distillation baseline (Table 5, appendix A) in the CPU video demo: the
# narrow R(2+1)D-18 trained from scratch on the generated clips against the
# frozen demo N_pre: alpha * soft term (softmax of the logits at T = 20) +
# (1 - alpha) * softmax cross-entropy on each clip's one random tag (the
# label N_pre was trained on: same dataset, same seed), alpha = 0.75. Give
# the teacher with
#   --cfg-options model.teacher_checkpoint=<N_pre checkpoint>
_base_ = ['./randomtag_r2plus1d-r18-w8_1xb16-coslr-4e_synthetic.py']

model = dict(
    type='DistillationRecognizer3D',
    teacher_config='configs/video/demo/'
    'randomtag_r2plus1d-r18-w8_1xb16-coslr-4e_synthetic.py',
    teacher_checkpoint='work_dirs/video_demo/npre_R18/epoch_4.pth',
    distill_loss=dict(temperature=20, alpha=0.75))
