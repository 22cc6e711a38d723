# Workload "files": a 2 KB file and 5 sysctl keys, persisted and applied.
from pyinfra.operations import files, server

files.put(name="2 KB file", src="file-2k.txt", dest="/etc/bench/file-2k.txt", mode="644")

for key, value in (
    ("net.ipv4.ip_forward", 1),
    ("net.ipv4.ip_nonlocal_bind", 1),
    ("net.ipv4.tcp_keepalive_time", 600),
    ("net.core.somaxconn", 32768),
    ("net.ipv4.tcp_fin_timeout", 15),
):
    server.sysctl(name=f"sysctl {key}", key=key, value=value, persist=True,
                  persist_file="/etc/sysctl.d/90-bench.conf")
