"""Run by tests/test_distributed.py under torchrun (one process per rank): ``kgforge train
--distributed`` for part of the epochs, then ``--resume`` to the end, in one interpreter (the
imports cost more than the training)."""

from __future__ import annotations

import sys

import torch.distributed as dist

from kgforge.cli import app


def main(config: str, data: str, output: str, first_epochs: str) -> None:
    dist.init_process_group("gloo")  # once: kgforge joins it (a group per call would be new)
    for extra in (["--set", f"training.epochs={first_epochs}"], ["--resume"]):
        args = ["-q", "train", config, "--data", data, "-o", output, "--distributed", *extra]
        app(args, standalone_mode=False)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:])
