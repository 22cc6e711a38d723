#!/usr/bin/env bash
# Benchmark: 50 hosts behind one bastion vs the same 50 hosts reached directly, a 20-command playbook.
# Target (issue 14): through the bastion within 1.5x of direct. A benchmark, not a timed test: results go to
# bench/RESULTS.md by hand.
#
#   bench/jump.sh [ROUNDS]        # from the repository root, as root; builds nothing (uses target/release)
#
# Lab `t-sshb` (51 hosts on 10.250.50.0/24): lab-h01 is the bastion, lab-h02..lab-h51 the targets. Both runs
# use the lab's key and strict host-key checking with its known_hosts; only `jump: lab-h01` differs. The lab
# goes down (purged) at the end, also on failure.
set -euo pipefail

ROUNDS=${1:-3}
LAB=t-sshb
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNBOOK=${RUNBOOK:-$ROOT/target/release/runbook}
WORK=$(mktemp -d)
trap '"$RUNBOOK" lab down --name $LAB --purge >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

cd "$ROOT"
"$RUNBOOK" lab down --name $LAB --purge >/dev/null 2>&1 || true
"$RUNBOOK" lab up --name $LAB --hosts 51 --subnet 10.250.50.0/24 | head -1
LAB_INVENTORY=$ROOT/.runbook/$LAB/inventory.yaml

# The direct inventory is the lab's; the jump one adds `jump: lab-h01` to every target.
cp "$LAB_INVENTORY" "$WORK/direct.yaml"
python3 - "$LAB_INVENTORY" "$WORK/jump.yaml" <<'EOF'
import sys, re
text = open(sys.argv[1]).read()
out = []
for line in text.splitlines():
    out.append(line)
    m = re.match(r'^(\s+)address: "?10\.250\.50\.(\d+)"?$', line)
    if m and m.group(2) != "11":
        out.append(f'{m.group(1)}jump: lab-h01')
open(sys.argv[2], "w").write("\n".join(out) + "\n")
EOF

{
    for i in $(seq 1 20); do
        echo "task(\"step $i\", hosts(), |h| { h.run(\"echo step-$i \$(hostname) >/dev/null\"); });"
    done
} > "$WORK/cmds20.rhai"

run() { # inventory → seconds
    local start end
    start=$(date +%s.%N)
    "$RUNBOOK" run "$WORK/cmds20.rhai" -i "$1" -l 'all:!lab-h01' -f 50 >"$WORK/out" 2>&1 || {
        cat "$WORK/out" >&2
        exit 1
    }
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f\n", b - a }'
}

# One warm-up of each (page cache, ARP), then alternating rounds so drift hits both alike.
run "$WORK/direct.yaml" >/dev/null
run "$WORK/jump.yaml" >/dev/null
direct=()
jump=()
for round in $(seq 1 "$ROUNDS"); do
    direct+=("$(run "$WORK/direct.yaml")")
    jump+=("$(run "$WORK/jump.yaml")")
    echo "round $round: direct ${direct[-1]} s, through the bastion ${jump[-1]} s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
d=$(median "${direct[@]}")
j=$(median "${jump[@]}")
echo "median of $ROUNDS: direct $d s, through the bastion $j s, ratio $(awk -v a="$d" -v b="$j" 'BEGIN { printf "%.2f", b / a }')"
