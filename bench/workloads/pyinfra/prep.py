# Workload "prep": /etc/hosts block, limits block, a sysctl file, a template, a restart when changed.
from io import StringIO

from pyinfra import host, inventory
from pyinfra.operations import files, server, systemd

hosts_block = "\n".join(f"{h.data.ssh_hostname} {h.name}" for h in inventory.get_group("lab"))
files.block(name="hosts block", path="/etc/hosts", content=hosts_block, marker="# {mark} bench hosts")

files.block(
    name="limits block",
    path="/etc/security/limits.conf",
    content="* soft nofile 65536\n* hard nofile 65536\n* soft nproc 65536\n* hard nproc 65536",
    marker="# {mark} bench limits",
)

sysctl_file = files.put(
    name="sysctl file",
    src=StringIO(
        "net.ipv4.tcp_keepalive_intvl = 30\n"
        "net.ipv4.tcp_keepalive_probes = 10\n"
        "net.ipv4.tcp_max_syn_backlog = 8192\n"
    ),
    dest="/etc/sysctl.d/95-bench-prep.conf",
    mode="644",
)
server.shell(name="apply sysctl", commands=["sysctl -p /etc/sysctl.d/95-bench-prep.conf"],
             _if=sysctl_file.did_change)

config = files.template(name="haproxy config", src="haproxy.cfg.j2", dest="/etc/haproxy/haproxy.cfg",
                        mode="644", haproxy_maxconn=4096, inventory_hostname=host.name)
systemd.service(name="restart haproxy", service="haproxy", restarted=True, _if=config.did_change)
