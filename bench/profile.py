#!/usr/bin/env python3
"""Where runbook's time goes in one run: process start-up, the first task (connecting every host), and the
per-task cost after that, from the run's own --log-json events and the wall time around the process.

    bench/profile.py RUNBOOK PLAYBOOK INVENTORY [runbook run args...]
"""
import json
import statistics
import subprocess
import sys
import tempfile
import time

runbook, playbook, inventory, *extra = sys.argv[1:]
with tempfile.NamedTemporaryFile(suffix=".jsonl") as events_file:
    started = time.perf_counter()
    subprocess.run([runbook, "run", playbook, "-i", inventory, "--log-json", events_file.name, *extra],
                   check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    events = [json.loads(line) for line in open(events_file.name)]
named = [(e["task"], e["elapsed"]) for e in events if e["event"] == "task_end"]
tasks = [elapsed for _, elapsed in named]
recap = next(e for e in events if e["event"] == "recap")["elapsed"]
hosts = len(next(e for e in events if e["event"] == "run_start")["hosts"])
rest = tasks[1:]
print(f"hosts {hosts}, tasks {len(tasks)}: wall {wall:.3f} s, run (recap) {recap:.3f} s, "
      f"outside the run (start-up, parse, exit) {wall - recap:.3f} s")
print(f"first task (connect + handshake + first command) {tasks[0]:.3f} s")
if rest:
    print(f"other tasks: sum {sum(rest):.3f} s, median {statistics.median(rest) * 1000:.1f} ms, "
          f"min {min(rest) * 1000:.1f} ms, max {max(rest) * 1000:.1f} ms")
print(f"between tasks (script, reporting): {recap - sum(tasks):.3f} s")
if len(named) <= 10:
    for name, elapsed in named:
        print(f"  {name}: {elapsed:.3f} s")
