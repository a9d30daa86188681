"""Data parallel on msrun and torchrun (2 CPU workers on 127.0.0.1) equals one process with the global batch.

One tiny DataDecide-shaped OLMo (tiny-olmo-ladder) trains 4 AdamW steps on a MindRecord of packed windows
with a global batch of 4: in one process (MindSpore graph, torch eager), and as 2 ranks x 2 rows under
msrun and torchrun, each launched exactly as a user would (`msrun ... mindzoo train ...`). Then a rank is
killed mid-run: the launcher must fail, and the last complete checkpoint must be the one written at
step 4, bit for bit.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zoo.core.errors import InputError
from zoo.train.distributed import (
    CHECKPOINT,
    RECORD,
    LauncherError,
    ShardedSampler,
    World,
    init,
    read_checkpoint,
    write_atomic,
)
from zoo.train.run import TrainArgs, run_train

BIN = Path(sys.executable).parent
LOSS_RTOL = 1e-4     # the bar: per-step losses, fp32
STEPS, BATCH, EVERY = 4, 4, 2
LAUNCH_TIMEOUT = 240


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def setup(tiny_checkpoints, tmp_path_factory):
    """The model folder and a MindRecord of 64 packed windows of 16 + 1 random ids inside its vocabulary."""
    from zoo.data.causal_lm import PackedSequences

    root = tmp_path_factory.mktemp("dp")
    windows = np.random.default_rng(0).integers(3, 100, size=(64, 17)).astype(np.int32)
    data = PackedSequences(windows, "random").write_mindrecord(root / "data" / "windows.mindrecord")[0]
    return {"model": str(tiny_checkpoints["tiny-olmo-ladder"]), "data": str(data), "root": root}


def _train_args(setup, out: Path, steps: int = STEPS) -> list[str]:
    return ["train", setup["model"], "--data", setup["data"], "--batch-size", str(BATCH), "--steps", str(steps),
            "--lr", "1e-2", "--checkpoint-every", str(EVERY), "--out", str(out)]


def _launch(setup, launcher: str, name: str, steps: int = STEPS, env: dict | None = None):
    """Run `msrun|torchrun (2 workers on 127.0.0.1) mindzoo train ...` as a user would; (result, out folder)."""
    out = setup["root"] / name
    framework = "mindspore" if launcher == "msrun" else "torch"
    if launcher == "msrun":
        head = [str(BIN / "msrun"), "--worker_num=2", "--local_worker_num=2", "--master_addr=127.0.0.1",
                f"--master_port={_free_port()}", "--join=True", f"--log_dir={setup['root'] / (name + '-logs')}"]
    else:
        head = [str(BIN / "torchrun"), "--nproc_per_node=2", "--master_addr=127.0.0.1",
                f"--master_port={_free_port()}"]
    command = [*head, str(BIN / "mindzoo"), *_train_args(setup, out, steps), "--framework", framework]
    # msrun runs the first `python` on PATH; MS_NODE_TIMEOUT: the scheduler gives up on a dead rank after 5 s
    # instead of about 30 s (only the failure test waits for it).
    environment = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "GLOG_v": "3",
                   "MS_NODE_TIMEOUT": "5", **(env or {})}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MS_ROLE", "MS_WORKER_NUM"):
        environment.pop(key, None)
    result = subprocess.run(command, cwd=setup["root"], env=environment, capture_output=True, text=True,
                            timeout=LAUNCH_TIMEOUT)
    return result, out


def _record(out: Path) -> dict:
    import json

    return json.loads((out / RECORD).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def single(setup):
    """One process, global batch 4, in each framework (in this process: no launcher in the environment)."""
    runs = {}
    for framework in ("mindspore", "torch"):
        out = setup["root"] / f"single-{framework}"
        runs[framework] = run_train(TrainArgs(model=setup["model"], framework=framework, data=setup["data"],
                                              batch_size=BATCH, steps=STEPS, lr=1e-2, out=str(out),
                                              checkpoint_every=EVERY))
        runs[framework]["out"] = out
    return runs


@pytest.fixture(scope="module")
def msrun_run(setup):
    result, out = _launch(setup, "msrun", "msrun")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result, out


@pytest.fixture(scope="module")
def torchrun_run(setup):
    result, out = _launch(setup, "torchrun", "torchrun")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result, out


def _rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float((np.abs(a - b) / np.abs(b)).max())


@pytest.mark.parametrize("launcher", ["msrun", "torchrun"])
def test_two_workers_equal_one_process_with_the_global_batch(launcher, setup, single, msrun_run, torchrun_run):
    from zoo.models import resolve, zoo_state

    initial = zoo_state(resolve(setup["model"]))
    result, out = msrun_run if launcher == "msrun" else torchrun_run
    framework = "mindspore" if launcher == "msrun" else "torch"
    record, one = _record(out), single[framework]
    assert (record["launcher"], record["world_size"], record["global_batch"], record["local_batch"]) == \
        (launcher, 2, BATCH, BATCH // 2)
    assert len(record["losses"]) == STEPS and one["world_size"] == 1
    assert _rel(record["losses"], one["losses"]) <= LOSS_RTOL
    # both ranks started and said who they are; rank 0's own rows give a different loss than the global mean
    both = result.stdout + result.stderr
    assert f"rank 0 of 2 ({launcher})" in both and f"rank 1 of 2 ({launcher})" in both
    # rank 0's final weights moved as one process's did: the weight updates agree per tensor (relative
    # Frobenius norm; max-abs is not the measure: Adam divides near-zero gradients' rounding noise by
    # their near-zero RMS, as the training-parity harness notes)
    dp_state, dp_meta = read_checkpoint(out / CHECKPOINT)
    one_state, one_meta = read_checkpoint(one["out"] / CHECKPOINT)
    assert dp_meta["step"] == one_meta["step"] == str(STEPS) and dp_meta["world_size"] == "2"
    assert set(dp_state) == set(one_state) == set(initial)
    for k, start in initial.items():
        update, reference = dp_state[k] - start, one_state[k] - start
        assert float(np.linalg.norm(update - reference) / np.linalg.norm(reference)) < 1e-4, k
    assert sorted(p.name for p in out.iterdir()) == [CHECKPOINT, RECORD]   # no temp files left behind


def test_mindspore_dp_equals_torch_ddp(msrun_run, torchrun_run):
    assert _rel(_record(msrun_run[1])["losses"], _record(torchrun_run[1])["losses"]) <= LOSS_RTOL


@pytest.mark.parametrize("launcher", ["msrun", "torchrun"])
def test_killed_worker_fails_the_launcher_and_keeps_the_last_checkpoint(launcher, setup, msrun_run, torchrun_run):
    """Rank 1 SIGKILLs itself after step 5 of 8 (checkpoints every 2 steps): the launcher exits non-zero naming
    the dead worker, and the checkpoint on disk is the complete step-4 one, equal to the 4-step run's."""
    result, out = _launch(setup, launcher, f"{launcher}-killed", steps=8, env={"MINDZOO_KILL_AT": "1:5"})
    both = result.stdout + result.stderr
    assert result.returncode != 0
    assert "rank 1: MINDZOO_KILL_AT=1:5: killing myself after step 5" in both
    if launcher == "msrun":
        # msrun names the worker's pid and its exit code; the rank's startup line maps the pid to rank 1
        pid = both.split("mindzoo train: rank 1 of 2 (msrun), pid ")[1].split(",")[0]
        assert f"Worker process {pid} exit with exception. Error code: -9." in both
        assert "Distributed job exited with exception" in both
    else:
        assert "Signal 9 (SIGKILL) received by PID" in both and "rank      : 1 (local_rank: 1)" in both
    state, meta = read_checkpoint(out / CHECKPOINT)
    assert meta["step"] == "4"
    finished, _ = read_checkpoint((msrun_run if launcher == "msrun" else torchrun_run)[1] / CHECKPOINT)
    assert all(np.array_equal(state[k], finished[k]) for k in finished)
    assert sorted(p.name for p in out.iterdir()) == [CHECKPOINT]   # no record of an unfinished run, no temp files


# ---- without launching: sharding, launcher errors, atomic writes ----


def test_shards_partition_every_global_batch_in_order():
    from zoo.data.sampler import BatchSampler

    sampler = BatchSampler(num_examples=30, batch_size=6, shuffle=True, seed=3)
    shards = [ShardedSampler(sampler, rank, 3) for rank in range(3)]
    assert [s.batch_size for s in shards] == [2, 2, 2] and {len(s) for s in shards} == {len(sampler)}
    for epoch in (0, 1):
        joined = [np.concatenate(parts) for parts in zip(*(s.batches(epoch) for s in shards), strict=True)]
        assert all(np.array_equal(a, b) for a, b in zip(joined, sampler.batches(epoch), strict=True))
    with pytest.raises(InputError, match="not divisible by the 4 ranks"):
        ShardedSampler(sampler, 0, 4)
    with pytest.raises(InputError, match="drop_last"):
        ShardedSampler(BatchSampler(30, 6, drop_last=False), 0, 2)


def test_wrong_or_incomplete_launcher_environment_is_refused():
    with pytest.raises(LauncherError, match="started by msrun, but --framework torch"):
        init("torch", env={"MS_ROLE": "MS_WORKER", "MS_WORKER_NUM": "2"})
    with pytest.raises(LauncherError, match="started by torchrun, but --framework mindspore"):
        init("mindspore", env={"WORLD_SIZE": "2", "RANK": "0"})
    with pytest.raises(LauncherError, match="LOCAL_RANK, MASTER_ADDR, MASTER_PORT are not"):
        init("torch", env={"WORLD_SIZE": "2", "RANK": "0"})
    assert init("torch", env={}) == World("torch")


def test_atomic_write_keeps_the_old_file_when_the_writer_dies(tmp_path):
    path = tmp_path / "checkpoint.safetensors"
    write_atomic(path, lambda tmp: Path(tmp).write_bytes(b"complete"))

    def dies_halfway(tmp: str) -> None:
        Path(tmp).write_bytes(b"part")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, dies_halfway)
    assert path.read_bytes() == b"complete" and [p.name for p in tmp_path.iterdir()] == [path.name]
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_train_cli_names_the_missing_launcher_variables(setup, monkeypatch, capsys):
    from zoo.cli import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    for key in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "MS_ROLE", "MS_WORKER_NUM"):
        monkeypatch.delenv(key, raising=False)
    assert main(["train", setup["model"], "--framework", "torch", "--data", setup["data"]]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("mindzoo: error: WORLD_SIZE is set but RANK, LOCAL_RANK")
