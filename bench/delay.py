"""Holds every packet of one NFQUEUE for a fixed time, then accepts it: added latency without netem.

The kernel here has no `tc netem`; bench/run sends the lab bridge's outgoing packets to this queue with an
iptables rule scoped to that bridge (`-o rb-<lab>`, `--queue-bypass`, so packets pass undelayed if this
program is not running). Single-threaded: the queue's socket and a heap of due times in one select loop.

    python delay.py QUEUE_NUM DELAY_MS
"""

import heapq
import itertools
import select
import signal
import sys
import time

from netfilterqueue import NetfilterQueue


def main() -> int:
    queue_num, delay = int(sys.argv[1]), float(sys.argv[2]) / 1000.0
    pending: list = []
    order = itertools.count()

    def hold(packet):
        packet.retain()
        heapq.heappush(pending, (time.monotonic() + delay, next(order), packet))

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    nfq = NetfilterQueue()
    nfq.bind(queue_num, hold, max_len=65536)
    fd = nfq.get_fd()
    print("ready", flush=True)
    try:
        while not stop:
            now = time.monotonic()
            while pending and pending[0][0] <= now:
                heapq.heappop(pending)[2].accept()
            timeout = max(0.0, pending[0][0] - now) if pending else 0.5
            try:
                readable, _, _ = select.select([fd], [], [], timeout)
            except InterruptedError:
                continue
            if readable:
                nfq.run(block=False)
    finally:
        for _, _, packet in pending:
            packet.accept()
        nfq.unbind()
    return 0


if __name__ == "__main__":
    sys.exit(main())
