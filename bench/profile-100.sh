#!/bin/bash
# Profile runbook on a 100-host lab (bnp100, 10.252.200.0/24): the first task (connecting) against the rest,
# per task of prep and files, then 9 of the hosts with 25 ms added (NFQUEUE, bench/delay.py). Output:
# bench/results/*-profile.txt. Run alone (it measures), from the repository root: bench/profile-100.sh
set -u
cd "$(dirname "$0")/.."
R=${CARGO_TARGET_DIR:-target}/release/runbook
RULE='OUTPUT -o rb-bnp100 -j NFQUEUE --queue-num 2527 --queue-bypass'
trap 'iptables -D $RULE 2>/dev/null; [ -n "${DPID:-}" ] && kill $DPID; $R lab down --name bnp100 --purge' EXIT
$R lab down --name bnp100 --purge >/dev/null 2>&1
$R lab up --name bnp100 --hosts 100 --subnet 10.252.200.0/24 >/dev/null
INV=.runbook/bnp100/inventory.yaml
export R
sleep 20   # let the fresh hosts settle
reset() {
python3 - <<'PY'
import sys, os
from importlib.machinery import SourceFileLoader
b = SourceFileLoader("bench", "bench/run").load_module()
from pathlib import Path
class L: pass
lab = L(); lab.name="bnp100"
import json, subprocess
listing = json.loads(subprocess.run([os.environ["R"],"inventory","-i",".runbook/bnp100/inventory.yaml","--list"],capture_output=True,text=True).stdout)
hv = listing["_meta"]["hostvars"]
lab.hosts = [(h, hv[h]["address"]) for h in listing["lab"]["hosts"]]
d = Path(".runbook/bnp100"); lab.key = d/"id_ed25519"; lab.known_hosts = d/"known_hosts"
lab.ssh_opts = b.Lab.ssh_opts.__get__(lab); b.Lab.on_all(lab, b.RESET)
PY
}
reset
sleep 10
for lim in 'lab-h00*' 'all'; do
  echo "== cmds20, limit $lim"; bench/profile.py $R bench/workloads/runbook/cmds.rhai $INV --forks 100 -e ncmd=20 -l "$lim"
done
echo "== prep apply (100 hosts, after reset)"
bench/profile.py $R bench/workloads/runbook/prep.rhai $INV --forks 100
echo "== prep rerun"
bench/profile.py $R bench/workloads/runbook/prep.rhai $INV --forks 100
echo "== files (apply after prep... keys new)"
bench/profile.py $R bench/workloads/runbook/files.rhai $INV --forks 100
echo "== files rerun"
bench/profile.py $R bench/workloads/runbook/files.rhai $INV --forks 100

echo "== +25 ms, 9 hosts"
bench/.venv/bin/python bench/delay.py 2527 25 > /tmp/bn-delay2.log & DPID=$!
sleep 1; iptables -I $RULE
reset
echo "== prep apply +25ms (9 hosts)"
bench/profile.py $R bench/workloads/runbook/prep.rhai $INV --forks 100 -l 'lab-h00*'
echo "== prep rerun +25ms"
bench/profile.py $R bench/workloads/runbook/prep.rhai $INV --forks 100 -l 'lab-h00*'
echo "== cmds20 +25ms"
bench/profile.py $R bench/workloads/runbook/cmds.rhai $INV --forks 100 -e ncmd=20 -l 'lab-h00*'
iptables -D $RULE
