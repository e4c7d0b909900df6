# The concept-generalization split of SL-MLP (section 3.1): ImageNet-1K cut
# into pre-D (652 classes, "mostly organisms") for pre-training and eval-D
# (the other 348 classes, "instrumentality") for the frozen-backbone probe.
# The paper's class list (after Sariyildiz et al.) is not bundled: give it
# as two class-list files of ImageNet label indices (0-999, one per line; the
# line number is the new label), then write the annotation files, e.g. with
#   awk 'NR==FNR{m[$1]=FNR-1;next} ($2 in m){print $1, m[$2]}' \
#       data/imagenet/meta/concept_pre_d_classes.txt \
#       data/imagenet/meta/train.txt > data/imagenet/meta/concept_pre_d_train.txt
# (same for val.txt and for eval-D), or with the `class_subset_ann` stage of
# cf_mm/experiments/stages/sl_mlp.py. Every name starts with `concept_`.
concept_pre_d_classes = 'data/imagenet/meta/concept_pre_d_classes.txt'
concept_eval_d_classes = 'data/imagenet/meta/concept_eval_d_classes.txt'
concept_num_pre_d = 652
concept_num_eval_d = 348
concept_pre_d_train_ann = 'meta/concept_pre_d_train.txt'
concept_pre_d_val_ann = 'meta/concept_pre_d_val.txt'
concept_eval_d_train_ann = 'meta/concept_eval_d_train.txt'
concept_eval_d_val_ann = 'meta/concept_eval_d_val.txt'
