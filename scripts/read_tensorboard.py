#!/usr/bin/env python3
"""Reads TensorBoard event files with the `tensorboard` package's own reader and prints the
scalars as JSON: {"files": [names], "scalars": {tag: [[step, value], ...]}}.

Usage: read_tensorboard.py LOGDIR   (the run directory holding events.out.tfevents.* files)
"""
import json
import os
import sys

from tensorboard.backend.event_processing import event_accumulator


def main():
    logdir = sys.argv[1]
    files = sorted(f for f in os.listdir(logdir) if f.startswith("events.out.tfevents."))
    # size_guidance 0: keep every scalar, not a reservoir sample
    acc = event_accumulator.EventAccumulator(logdir, size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    scalars = {
        tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]
    }
    json.dump({"files": files, "file_version": acc.file_version, "scalars": scalars}, sys.stdout)


if __name__ == "__main__":
    main()
