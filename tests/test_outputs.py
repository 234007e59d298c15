"""The history writer's timing: a row's seconds are everything the epoch cost, callbacks included."""

import time

from cifar_common import outputs


def test_history_seconds_include_the_time_between_epochs(tmp_path):
    writer = outputs.HistoryWriter(str(tmp_path), "test")
    logs = {"learning_rate": 0.1, "loss": 1.0, "accuracy": 0.5, "val_loss": 1.0, "val_accuracy": 0.5}
    writer.on_train_begin()
    writer.on_epoch_begin(0)
    time.sleep(0.05)  # training
    writer.on_epoch_end(0, logs)
    time.sleep(0.3)  # what runs after the row: the backup of the epoch, the progress bar
    writer.on_epoch_begin(1)
    time.sleep(0.05)
    writer.on_epoch_end(1, logs)
    first, second = (row["seconds"] for row in outputs.read_history(str(tmp_path)))
    assert 0.05 <= first < 0.3
    assert second >= 0.35  # the gap before the epoch counts towards it
    assert writer.train_seconds[1] < 0.3  # the training part alone leaves the gap out
