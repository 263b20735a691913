"""Fine-tuning an encoder with the WordOT loss (Section 4.3 and 5.2 of the paper).

One *step* sees one equal-sized batch per language (Section 5.2); each language's loss is
back-propagated as soon as it is computed (the gradient of the sum, with one language's graph in
memory at a time), and the optimiser updates after ``grad_accum`` steps. ``accelerate`` handles
devices and bf16. Runs are never lost: ``config.json`` is written first, every update appends a
line to ``log.jsonl``, ``checkpoints/step-K`` holds model, optimiser, RNG and data position every
``checkpoint_every`` updates, and ``resume=True`` continues from the last one to the same weights
an uninterrupted run reaches (and returns a finished run's summary without training again).

Several GPUs (``accelerate launch`` or ``torchrun``) split every batch: all processes draw the
same global batches, each computes the loss of its shard (``batch_size / processes`` pairs of
every language) and DDP averages the gradients once per update, so a run takes the same steps
on any number of GPUs and the global batch stays ``batch_size`` (the paper's 24).

=========================  ==================================================================
module                     what it holds
=========================  ==================================================================
:mod:`.settings`           :class:`TrainConfig`, :func:`config_from_profile`, :func:`run_dir`,
                           :func:`profile_corpora`
:mod:`.files`              the files of a run directory: config, log, checkpoints, summary
:mod:`.lock`               one training process per run directory (:class:`RunLocked`)
:mod:`.ranks`              an error on one of several processes stops them all
                           (:class:`ProcessFailed`)
:mod:`.loop`               :func:`train` as named steps: setup, restore, step, log,
                           checkpoint, finish
=========================  ==================================================================
"""

from .files import read_log
from .lock import RunLocked
from .loop import NonFiniteLoss, shard, train
from .ranks import ProcessFailed
from .settings import TrainConfig, config_from_profile, profile_corpora, run_dir

__all__ = [
    "TrainConfig",
    "config_from_profile",
    "run_dir",
    "profile_corpora",
    "train",
    "read_log",
    "NonFiniteLoss",
    "RunLocked",
    "ProcessFailed",
    "shard",
]
