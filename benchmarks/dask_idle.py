"""CPU-seconds Dask's own background work costs while one submission runs: a local cluster as `course grade` makes
it (one single-threaded worker process, its nanny and the scheduler in the coordinator), with Dask's defaults and
with course.grading.cluster.QUIET_DASK, side by side in one run.

Each way runs a task that sleeps as long as a notebook takes to grade, so every CPU-second counted is Dask's:
the coordinator's process (scheduler, nanny, client) and the worker's. The ways alternate, ``--rounds`` times.

Prints figures; asserts nothing. Usage: python benchmarks/dask_idle.py [--seconds 30] [--rounds 2]
The last line reads `dask idle: X CPU-s per submission with Dask's defaults, Y quiet (ratio R)`.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time

import psutil

from course.grading.cluster import QUIET_DASK

SETTLE_S = 5


def _sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def one_way(settings: dict, seconds: float) -> dict[str, float]:
    """In this process (a child of main, so each way starts clean): CPU-s of the coordinator and the worker."""
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set(settings):
        cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, memory_limit=0,
                               dashboard_address=None, silence_logs=logging.CRITICAL)
        client = Client(cluster)
    try:
        client.submit(_sleep, 0.1, pure=False).result()
        time.sleep(SETTLE_S)  # what a worker does once, as it starts, is not what it costs per submission
        me = psutil.Process()
        (worker,) = [child for child in me.children() if "resource_tracker" not in " ".join(child.cmdline())]
        before = _cpu(me), _cpu(worker)
        client.submit(_sleep, seconds, pure=False).result()
        return {"coordinator": _cpu(me) - before[0], "worker": _cpu(worker) - before[1]}
    finally:
        client.close()
        cluster.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the task runs (a submission's grading)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--one-way", help=argparse.SUPPRESS)  # internal: the child's settings, as JSON
    args = parser.parse_args()
    if args.one_way is not None:
        print(json.dumps(one_way(json.loads(args.one_way), args.seconds)))
        return
    ways = {"Dask's defaults": {}, "quiet (QUIET_DASK)": QUIET_DASK}
    totals: dict[str, list[float]] = {name: [] for name in ways}
    for round_ in range(1, args.rounds + 1):
        for name, settings in ways.items():
            output = subprocess.run([sys.executable, __file__, "--seconds", str(args.seconds), "--one-way", json.dumps(settings)],
                                    check=True, capture_output=True, text=True).stdout
            cpu = json.loads(output.strip().splitlines()[-1])
            totals[name].append(cpu["coordinator"] + cpu["worker"])
            print(f"round {round_}, {name}: coordinator {cpu['coordinator']:.2f}, worker {cpu['worker']:.2f} CPU-s "
                  f"over {args.seconds:.0f} s")
    default, quiet = (sum(values) / len(values) for values in totals.values())
    print(f"dask idle: {default:.2f} CPU-s per submission with Dask's defaults, {quiet:.2f} quiet (ratio {quiet / default:.2f})")


if __name__ == "__main__":
    main()
