#!/usr/bin/env python3
"""Back-to-back runs with and without the connection holder (`runbook run --persist`).

    bench/persist.py                      # 30 hosts, 3 rounds, workloads cmds20 and prep (rerun)
    bench/persist.py --hosts 50 --rounds 5

Boots a lab (default name t-cpb on 10.250.31.0/24), applies each workload once (not timed), then per round:
  direct  : run, then time a second run (each run logs in to every host, as today)
  persist : start from no holder, run with --persist (logs in, starts the holder; timed as "first"), then
            time a second run with --persist (reuses the held connections: no login)
The holder lives in a private temporary folder (RUNBOOK_HOLDER_DIR) and is ended by its pid after each round.
Prints a Markdown table of medians; the lab goes down (purged) at the end unless --keep.
"""

import argparse
import os
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / "workloads" / "runbook"


def timed(argv, env):
    started = time.monotonic()
    result = subprocess.run(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {result.returncode}: {result.stderr[-2000:]}")
    return elapsed


def stop_holder(folder: Path):
    pid_file = folder / "holder.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text().strip())
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workloads", default="cmds20,prep")
    parser.add_argument("--name", default="t-cpb")
    parser.add_argument("--subnet", default="10.250.31.0/24")
    parser.add_argument("--keep", action="store_true", help="leave the lab up")
    parser.add_argument("--no-build", action="store_true", help="use target/release/runbook as it is")
    args = parser.parse_args()

    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=REPO, check=True)
    runbook = str(REPO / "target" / "release" / "runbook")
    subprocess.run([runbook, "lab", "up", "--name", args.name, "--hosts", str(args.hosts), "--subnet", args.subnet],
                   cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    inventory = str(REPO / ".runbook" / args.name / "inventory.yaml")
    folder = Path(tempfile.mkdtemp(prefix="rb-persist-bench-")) / "holder"
    env = dict(os.environ, RUNBOOK_HOLDER_DIR=str(folder), NO_COLOR="1")
    env.pop("RUNBOOK_PERSIST", None)
    rows = []
    try:
        for workload in args.workloads.split(","):
            base = "cmds" if workload.startswith("cmds") else workload
            ncmd = workload[4:] if workload.startswith("cmds") else "0"
            argv = [runbook, "run", str(WORK / f"{base}.rhai"), "-i", inventory, "--forks", str(args.hosts),
                    "-e", f"ncmd={ncmd}"]
            persist = argv + ["--persist", "120"]
            timed(argv, env)  # the workload applied once: every timed run below is a rerun
            direct, first, second = [], [], []
            for _ in range(args.rounds):
                timed(argv, env)
                direct.append(timed(argv, env))
                stop_holder(folder)
                first.append(timed(persist, env))
                second.append(timed(persist, env))
                stop_holder(folder)
            d, f, s = (statistics.median(x) for x in (direct, first, second))
            rows.append((workload, d, f, s))
    finally:
        stop_holder(folder)
        if not args.keep:
            subprocess.run([runbook, "lab", "down", "--name", args.name, "--purge"], cwd=REPO,
                           stdout=subprocess.DEVNULL)
    print(f"{args.hosts} hosts, {args.rounds} rounds, median wall seconds of a rerun\n")
    print("| workload | direct rerun s | --persist, first run s | --persist, second run s | direct ÷ second |")
    print("|---|---|---|---|---|")
    for workload, d, f, s in rows:
        print(f"| {workload} | {d:.2f} | {f:.2f} | {s:.2f} | {d / s:.1f}x |")


if __name__ == "__main__":
    main()
