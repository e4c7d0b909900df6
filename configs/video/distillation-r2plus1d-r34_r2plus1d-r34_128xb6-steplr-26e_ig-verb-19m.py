# Distillation baseline of Table 5 (section 4.1, appendix A; Hinton et al.):
# an R(2+1)D-34 student trained from scratch on IG-Verb-19M with N_pre's
# setting, against the frozen N_pre (the teacher): loss = alpha * soft term
# (teacher logits / T through a softmax, T = 20) + (1 - alpha) * softmax
# cross-entropy on the video's one random tag (the label N_pre was trained
# on: same dataset, same `tag_seed`), alpha = 0.75. Give the teacher with
#   --cfg-options model.teacher_checkpoint=<N_pre .pth>
_base_ = ['./randomtag_r2plus1d-r34_128xb6-steplr-26e_ig-verb-19m.py']

teacher_config = \
    'configs/video/randomtag_r2plus1d-r34_128xb6-steplr-26e_ig-verb-19m.py'
teacher_checkpoint = 'work_dirs/video/npre_r2plus1d-r34/iter_638020.pth'

model = dict(
    type='DistillationRecognizer3D',
    teacher_config=teacher_config,
    teacher_checkpoint=teacher_checkpoint,
    distill_loss=dict(temperature=20, alpha=0.75))
