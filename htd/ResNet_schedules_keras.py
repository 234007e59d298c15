"""The learning-rate schedule study: step, cosine and hyperbolic-tangent decay on one network.

What it adds over resnet/ResNet_keras.py: nothing in the network (it is that script's pre-activation
ResNet, here at 50 layers, n = 8, the network of the HTD comparison, arXiv 1806.01593); everything in the
experiment. One command trains one schedule --runs times, with seeds --seed, --seed+1, ... Run i starts
from the weights that seed draws, so the same run index of every schedule starts from the same weights and
sees the same batches in the same order: what differs between the schedules is the schedule alone.

    step    the base rate, a tenth from epoch 81, a hundredth from epoch 122 (of 200, as resnet/)
    cosine  lr/2 (1 + cos(pi t/T)): from the base rate down to 0 along half a cosine
    htd     lr/2 (1 - tanh(L + (U - L) t/T)), L = --htd-lower, U = --htd-upper (-6 and 3): flat at
            first, then down in a smooth S

Each run goes to DIR/seed-<seed>/ with the usual outputs; htd/compare.py reads the folders of all three
schedules and draws them together. The full study (5 runs of each schedule on each dataset) is in
htd/README.md. Reference (median of 5 runs, 200 epochs): CIFAR-10 93.09 / 93.42 / 93.58 %, CIFAR-100
70.25 / 70.07 / 70.81 % (step / cosine / HTD).

    python htd/ResNet_schedules_keras.py --lr-schedule htd --runs 5 --output-dir runs/htd-study/cifar10/htd
"""

# cifar_common before keras: it sets TensorFlow's log level and CPU kernels, read when keras is imported.
from cifar_common import regularisers, schedules, train
import keras

resnet = train.import_script("resnet/ResNet_keras.py")  # the network and its hyperparameters

EPOCHS = 200
BATCH_SIZE = 128
LEARNING_RATE = 0.1
LR_STEPS = resnet.LR_STEPS  # ((81, 0.1), (122, 0.01)) of 200
WEIGHT_DECAY = 1e-4
DEPTH = 50
LR_SCHEDULE = "htd"
MODEL_FLAGS = {"depth": (DEPTH, "layers of the pre-activation ResNet, 6n+2: 20, 32, 50, 110")}

if __name__ == "__main__":
    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                            weight_decay=WEIGHT_DECAY, lr_schedule=LR_SCHEDULE, model_flags=MODEL_FLAGS, runs=True)
    for seed_args in train.seeded_runs(args):  # --runs N: seeds --seed, --seed+1, ..., each in DIR/seed-<seed>/
        with train.Run(seed_args) as run:
            model = resnet.build_model(run.data, seed_args.weight_decay, seed_args.depth)
            model = regularisers.insert(model, seed_args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
            model.compile(optimizer=keras.optimizers.SGD(seed_args.lr, momentum=0.9, nesterov=True,
                                                          **regularisers.ema_arguments(seed_args)),
                          loss=regularisers.loss(seed_args, model), metrics=["accuracy"],
                          jit_compile=run.jit_compile)
            schedule = schedules.from_args(seed_args, steps=LR_STEPS, reference_epochs=EPOCHS)
            run.fit(model, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
