"""Process-wide MindSpore runtime settings, applied before the first kernel runs.

MindSpore 2.9 hands every graph run and PyNative launch to a pipeline thread and makes the caller
wait for it in `AsyncRQueue::Wait`, an empty busy loop. On an accelerator that overlaps host work
with device work; on CPU the kernels run on the same cores the waiter spins on, so one core of the
machine is lost to waiting (2 cores: every MatMul ran at half speed). `MS_DEV_HOST_BLOCKING_RUN=1`
runs the pipeline on the calling thread instead. MindSpore reads it once, at its first launch, so
it is set when `zoo.ms` is imported; a value the user exported wins. docs/MINDSPORE_NOTES.md.
"""

from __future__ import annotations

import os

HOST_BLOCKING_ENV = "MS_DEV_HOST_BLOCKING_RUN"
ACCELERATORS = ("Ascend", "GPU")


def host_blocking_wanted(device: str, environ: dict[str, str] | os._Environ = os.environ) -> bool:
    """Pure rule: block on the host only for CPU targets, and never against the user's setting."""
    return device not in ACCELERATORS and HOST_BLOCKING_ENV not in environ


def prefer_host_blocking_run(device: str | None = None) -> bool:
    """Set MS_DEV_HOST_BLOCKING_RUN=1 for a CPU target; returns whether it is in force."""
    if device is None:
        from zoo.ms.kernels import device_name

        device = device_name()
    if host_blocking_wanted(device):
        os.environ[HOST_BLOCKING_ENV] = "1"
    return os.environ.get(HOST_BLOCKING_ENV) == "1"
