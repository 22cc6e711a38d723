#!/usr/bin/env bash
# The floor: OpenSSH, one ControlMaster per host, the workload's commands run in sequence on each host,
# every host in parallel (one background job per host). Each step is one ssh round trip on the shared
# connection that compares and changes only when needed, so a rerun changes nothing.
#
#   floor.sh WORKLOAD HOSTS_FILE KEY KNOWN_HOSTS CONTROL_DIR [NCMD]
#   WORKLOAD: cmds | files | prep;  HOSTS_FILE: lines "name address"
set -euo pipefail
workload=$1 hosts_file=$2 key=$3 known_hosts=$4 ctl=$5 ncmd=${6:-20}
here=$(cd "$(dirname "$0")" && pwd)
common=$here/../common
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ssh_opts=(-i "$key" -o IdentitiesOnly=yes -o BatchMode=yes -l root
          -o UserKnownHostsFile="$known_hosts" -o StrictHostKeyChecking=yes
          -o ControlMaster=auto -o ControlPath="$ctl/%C" -o ControlPersist=60)

# put_if_changed ADDR PATH MODE LOCAL_FILE AFTER: writes LOCAL_FILE to PATH when different, then runs AFTER.
put_if_changed() {
    local addr=$1 path=$2 mode=$3 src=$4 after=$5
    local script='f=$1; mkdir -p "$(dirname "$f")"; t=$(mktemp "$f.XXXXXX"); cat > "$t";
if cmp -s "$t" "$f"; then rm -f "$t"; else chmod '"$mode"' "$t" && mv "$t" "$f" && { '"$after"'; }; fi'
    ssh "${ssh_opts[@]}" "$addr" "sh -c $(printf %q "$script") sh $(printf %q "$path")" < "$src"
}

# block ADDR PATH MARKER LOCAL_BLOCK: keeps the block between "# BEGIN MARKER" / "# END MARKER" in PATH.
block() {
    local addr=$1 path=$2 marker=$3 src=$4
    local script='f=$1; m=$2; b=$(mktemp); cat > "$b"; t=$(mktemp "$f.XXXXXX");
awk -v m="$m" -v bf="$b" '"'"'BEGIN { B = "# BEGIN " m; E = "# END " m; blk = B "\n";
  while ((getline l < bf) > 0) blk = blk l "\n"; blk = blk E "\n" }
$0 == B { skip = 1; if (!done) { printf "%s", blk; done = 1 }; next }
skip { if ($0 == E) skip = 0; next }
{ print }
END { if (!done) printf "%s", blk }'"'"' "$f" > "$t"; rm -f "$b";
if cmp -s "$t" "$f"; then rm -f "$t"; else chmod 644 "$t"; mv "$t" "$f"; fi'
    ssh "${ssh_opts[@]}" "$addr" "sh -c $(printf %q "$script") sh $(printf %q "$path") $(printf %q "$marker")" < "$src"
}

cat > "$tmp/sysctl-files.conf" <<'CONF'
net.ipv4.ip_forward = 1
net.ipv4.ip_nonlocal_bind = 1
net.ipv4.tcp_keepalive_time = 600
net.core.somaxconn = 32768
net.ipv4.tcp_fin_timeout = 15
CONF
cat > "$tmp/sysctl-prep.conf" <<'CONF'
net.ipv4.tcp_keepalive_intvl = 30
net.ipv4.tcp_keepalive_probes = 10
net.ipv4.tcp_max_syn_backlog = 8192
CONF
printf '* soft nofile 65536\n* hard nofile 65536\n* soft nproc 65536\n* hard nproc 65536\n' > "$tmp/limits"
awk '{ print $2 " " $1 }' "$hosts_file" > "$tmp/hosts-block"

one_host() {
    local name=$1 addr=$2
    case $workload in
    cmds)
        for ((i = 0; i < ncmd; i++)); do ssh "${ssh_opts[@]}" "$addr" true; done ;;
    files)
        put_if_changed "$addr" /etc/bench/file-2k.txt 644 "$common/file-2k.txt" true
        put_if_changed "$addr" /etc/sysctl.d/90-bench.conf 644 "$tmp/sysctl-files.conf" \
            'sysctl -q -p /etc/sysctl.d/90-bench.conf' ;;
    prep)
        block "$addr" /etc/hosts "bench hosts" "$tmp/hosts-block"
        block "$addr" /etc/security/limits.conf "bench limits" "$tmp/limits"
        put_if_changed "$addr" /etc/sysctl.d/95-bench-prep.conf 644 "$tmp/sysctl-prep.conf" \
            'sysctl -q -p /etc/sysctl.d/95-bench-prep.conf'
        # The template, rendered here (the floor has no template engine: the host name is its one variable).
        sed -e 's/{{ haproxy_maxconn }}/4096/' \
            -e "s/{{ inventory_hostname | replace(\"-\", \"_\") }}/${name//-/_}/" \
            "$common/haproxy.cfg.j2" > "$tmp/haproxy.$name"
        put_if_changed "$addr" /etc/haproxy/haproxy.cfg 644 "$tmp/haproxy.$name" 'systemctl restart haproxy' ;;
    *) echo "unknown workload $workload" >&2; return 2 ;;
    esac
    ssh "${ssh_opts[@]}" -O exit "$addr" 2>/dev/null
}

pids=()
while read -r name addr; do
    one_host "$name" "$addr" & pids+=($!)
done < "$hosts_file"
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
exit $rc
