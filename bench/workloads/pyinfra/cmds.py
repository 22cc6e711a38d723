# Workload "cmds": N `true` commands per host, one operation each. N from the environment (BENCH_NCMD).
import os

from pyinfra.operations import server

for i in range(int(os.environ.get("BENCH_NCMD", "20"))):
    server.shell(name=f"true {i + 1}", commands=["true"])
