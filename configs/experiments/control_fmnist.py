# The control experiment (ClusterFit section 3.2, Figure 3) on a second
# dataset pair, chosen and written down before it was run (2026-12-06,
# before any result of either pair at these sizes was seen), with every
# setting of configs/experiments/control_cifar10.py unchanged:
#   D_pre = D_cf = the 6 clothing classes of Fashion-MNIST (t-shirt/top,
#     trouser, pullover, dress, coat, shirt), 150 train images each;
#   aligned target: the same 6 classes (500 held-out images each);
#   disjoint target: footwear and bags (sandal, sneaker, bag, ankle boot),
#     500 train / 500 test images per class;
#   other domain: CIFAR-10, all 10 classes, 200 / 200 per class.
# Fashion-MNIST is read as 32x32 RGB PNG folders (fashion_mnist_subset), so
# the networks, pipelines and schedules are exactly the CIFAR pair's.
#
# One change, for CPU time only, decided on 2026-12-06 at 13:10 UTC while
# the first N_pre of this pair were at epoch 20 of 120 (no result of this
# pair existed): the distillation baseline is not trained here
# (distill_noise = []), so this pair tests the N_cf vs N_pre conclusions
# only; "distill_noise=[0,50]" runs it as on the first pair (+6 networks).
#
#   python tools/run_experiment.py configs/experiments/control_fmnist.py --threads 1
_base_ = ['./control_cifar10.py']

pre_data = dict(type='fashion_mnist_subset',
                classes=['t-shirt', 'trouser', 'pullover', 'dress', 'coat',
                         'shirt'])
disjoint_data = dict(type='fashion_mnist_subset',
                     classes=['sandal', 'sneaker', 'bag', 'ankle-boot'])
other_data = dict(type='cifar10_subset',
                  classes=['airplane', 'automobile', 'bird', 'cat', 'deer',
                           'dog', 'frog', 'horse', 'ship', 'truck'])
target_names = dict(aligned='Fashion-MNIST clothing (aligned)',
                    disjoint='Fashion-MNIST footwear and bags (disjoint)',
                    other='CIFAR-10 (other domain)')
pre_name = 'Fashion-MNIST clothing (D_pre)'
distill_noise = []  # see the header
