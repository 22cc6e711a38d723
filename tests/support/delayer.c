/* A stand-in for `tc netem delay` on kernels without netem: packets that an iptables rule sends to an NFQUEUE
 * are held for DELAY_MS milliseconds, then accepted, in arrival order. With --queue-bypass on the rule, packets
 * pass undelayed whenever this program is not running, so a crashed delayer never cuts the lab off.
 *
 * Build: cc -O2 -o delayer delayer.c -lnetfilter_queue
 * Usage: delayer QUEUE_NUM DELAY_MS
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CAPACITY 65536

static uint32_t ids[CAPACITY];
static uint64_t due[CAPACITY];
static unsigned head, tail;
static uint64_t delay_ns;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int on_packet(struct nfq_q_handle *queue, struct nfgenmsg *msg, struct nfq_data *data, void *unused) {
    (void)msg;
    (void)unused;
    struct nfqnl_msg_packet_hdr *header = nfq_get_msg_packet_hdr(data);
    if (!header) return 0;
    uint32_t id = ntohl(header->packet_id);
    if (tail - head >= CAPACITY) {
        /* Full: let it through now rather than drop it. */
        return nfq_set_verdict(queue, id, NF_ACCEPT, 0, NULL);
    }
    ids[tail % CAPACITY] = id;
    due[tail % CAPACITY] = now_ns() + delay_ns;
    tail++;
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s QUEUE_NUM DELAY_MS\n", argv[0]);
        return 2;
    }
    int queue_num = atoi(argv[1]);
    delay_ns = (uint64_t)atoi(argv[2]) * 1000000ull;
    struct nfq_handle *handle = nfq_open();
    if (!handle) { perror("nfq_open"); return 1; }
    struct nfq_q_handle *queue = nfq_create_queue(handle, (uint16_t)queue_num, &on_packet, NULL);
    if (!queue) { perror("nfq_create_queue"); return 1; }
    /* Only the verdict is needed, not the payload. */
    if (nfq_set_mode(queue, NFQNL_COPY_META, 0) < 0) { perror("nfq_set_mode"); return 1; }
    nfq_set_queue_maxlen(queue, CAPACITY);
    int fd = nfq_fd(handle);
    char buffer[65536];
    fprintf(stderr, "delayer: queue %d, %s ms\n", queue_num, argv[2]);
    fflush(stderr);
    for (;;) {
        int timeout_ms = -1;
        if (head != tail) {
            uint64_t now = now_ns();
            uint64_t next = due[head % CAPACITY];
            timeout_ms = next > now ? (int)((next - now + 999999) / 1000000) : 0;
        }
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int ready = poll(&pfd, 1, timeout_ms);
        if (ready > 0) {
            int length = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
            if (length > 0) nfq_handle_packet(handle, buffer, length);
            else if (length < 0 && errno == ENOBUFS) fprintf(stderr, "delayer: dropped packets (ENOBUFS)\n");
        }
        uint64_t now = now_ns();
        while (head != tail && due[head % CAPACITY] <= now) {
            nfq_set_verdict(queue, ids[head % CAPACITY], NF_ACCEPT, 0, NULL);
            head++;
        }
    }
}
