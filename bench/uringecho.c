/* SPDX-License-Identifier: MIT */
/*
 * bench/uringecho.c - an io_uring echo server, shown by bench/compare next to the
 * raw floor for reference: what completion-based I/O makes of the same echo
 * on this kernel.
 *
 *   uringecho TCP_PORT      (0: any free port; prints "ready tcp=PORT")
 *
 * One thread, one ring, no epoll: a multishot accept on the listener, a
 * multishot recv per connection that takes its buffers from a provided
 * buffer ring, and one send at a time per connection from its own buffer.
 * Everything queued while the completions of one wait are handled goes to
 * the kernel with the next wait, in a single io_uring_enter, so a busy
 * server makes one system call per batch instead of a recv and a send per
 * message.
 *
 * What a connection receives while its send is in flight is appended to a
 * second buffer, which is sent next: nothing is dropped or reordered, and
 * there is no backpressure (the benchmark's clients wait for each echo).
 * Written against the kernel's <linux/io_uring.h> alone, without liburing.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RING_ENTRIES 1024
#define NBUFS 256          /* provided receive buffers (a power of two) */
#define BUF_SIZE 16384
#define BUF_GROUP 0

enum op { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3 };

typedef struct conn {
    int fd;
    int refs;            /* requests in the kernel: the recv, the send */
    int eof;             /* the peer ended its stream */
    int dead;            /* shut down: freed once refs drops to 0 */
    unsigned char *fly;  /* the buffer being sent */
    size_t fly_len, fly_off, fly_cap;
    unsigned char *pend; /* received while a send is in flight */
    size_t pend_len, pend_cap;
} conn;

static struct {
    int fd;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
    unsigned sq_entries, tail, queued;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    struct io_uring_buf_ring *br;
    unsigned char *bufs;
    unsigned short br_tail;
} R;

static void die(const char *what)
{
    fprintf(stderr, "uringecho: %s: %s\n", what, strerror(errno));
    exit(1);
}

static uint64_t tag(void *p, enum op op)
{
    return (uint64_t)(uintptr_t)p | (uint64_t)op;
}

/* Hands every queued entry to the kernel and waits for `wait` completions. */
static void enter(unsigned wait)
{
    atomic_store_explicit((_Atomic unsigned *)R.sq_tail, R.tail, memory_order_release);
    for (;;) {
        long r = syscall(__NR_io_uring_enter, R.fd, R.queued, wait,
                         wait ? IORING_ENTER_GETEVENTS : 0, NULL, 0);
        if (r >= 0) {
            R.queued -= (unsigned)r < R.queued ? (unsigned)r : R.queued;
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno == EBUSY || errno == EAGAIN)
            return; /* completions must be reaped first; they are, next round */
        die("io_uring_enter");
    }
}

static struct io_uring_sqe *sqe_get(void)
{
    unsigned head = atomic_load_explicit((_Atomic unsigned *)R.sq_head, memory_order_acquire);

    if (R.tail - head >= R.sq_entries) {
        enter(0); /* the queue is full: submit what is there */
        head = atomic_load_explicit((_Atomic unsigned *)R.sq_head, memory_order_acquire);
        if (R.tail - head >= R.sq_entries) {
            errno = EBUSY;
            die("submission queue");
        }
    }
    unsigned idx = R.tail & *R.sq_mask;
    struct io_uring_sqe *s = &R.sqes[idx];

    R.sq_array[idx] = idx;
    R.tail++;
    R.queued++;
    memset(s, 0, sizeof(*s));
    return s;
}

static void buf_give(unsigned bid)
{
    struct io_uring_buf *b = &R.br->bufs[R.br_tail & (NBUFS - 1)];

    b->addr = (uint64_t)(uintptr_t)(R.bufs + (size_t)bid * BUF_SIZE);
    b->len = BUF_SIZE;
    b->bid = (unsigned short)bid;
    R.br_tail++;
    atomic_store_explicit((_Atomic unsigned short *)&R.br->tail, R.br_tail,
                          memory_order_release);
}

static void ring_setup(void)
{
    struct io_uring_params p;

    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    R.fd = (int)syscall(__NR_io_uring_setup, RING_ENTRIES, &p);
    if (R.fd < 0 && errno == EINVAL) { /* a kernel before 6.1 */
        memset(&p, 0, sizeof(p));
        R.fd = (int)syscall(__NR_io_uring_setup, RING_ENTRIES, &p);
    }
    if (R.fd < 0)
        die("io_uring_setup");
    if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
        errno = ENOTSUP;
        die("io_uring without IORING_FEAT_SINGLE_MMAP");
    }
    size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    size_t size = sq_size > cq_size ? sq_size : cq_size;
    char *ring = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, R.fd,
                      IORING_OFF_SQ_RING);
    if (ring == MAP_FAILED)
        die("mmap ring");
    R.sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_POPULATE, R.fd, IORING_OFF_SQES);
    if (R.sqes == MAP_FAILED)
        die("mmap sqes");
    R.sq_head = (unsigned *)(ring + p.sq_off.head);
    R.sq_tail = (unsigned *)(ring + p.sq_off.tail);
    R.sq_mask = (unsigned *)(ring + p.sq_off.ring_mask);
    R.sq_array = (unsigned *)(ring + p.sq_off.array);
    R.sq_entries = p.sq_entries;
    R.cq_head = (unsigned *)(ring + p.cq_off.head);
    R.cq_tail = (unsigned *)(ring + p.cq_off.tail);
    R.cq_mask = (unsigned *)(ring + p.cq_off.ring_mask);
    R.cqes = (struct io_uring_cqe *)(ring + p.cq_off.cqes);
    R.tail = *R.sq_tail;

    R.br = mmap(NULL, NBUFS * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    R.bufs = malloc((size_t)NBUFS * BUF_SIZE);
    if (R.br == MAP_FAILED || R.bufs == NULL)
        die("buffers");
    struct io_uring_buf_reg reg = { .ring_addr = (uint64_t)(uintptr_t)R.br,
                                    .ring_entries = NBUFS, .bgid = BUF_GROUP };
    if (syscall(__NR_io_uring_register, R.fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0)
        die("IORING_REGISTER_PBUF_RING");
    for (unsigned i = 0; i < NBUFS; i++)
        buf_give(i);
}

static void arm_accept(int lfd)
{
    struct io_uring_sqe *s = sqe_get();

    s->opcode = IORING_OP_ACCEPT;
    s->fd = lfd;
    s->ioprio = IORING_ACCEPT_MULTISHOT;
    s->accept_flags = SOCK_CLOEXEC;
    s->user_data = tag(NULL, OP_ACCEPT);
}

static void arm_recv(conn *c)
{
    struct io_uring_sqe *s = sqe_get();

    s->opcode = IORING_OP_RECV;
    s->fd = c->fd;
    s->ioprio = IORING_RECV_MULTISHOT;
    s->flags = IOSQE_BUFFER_SELECT;
    s->buf_group = BUF_GROUP;
    s->user_data = tag(c, OP_RECV);
    c->refs++;
}

static void send_fly(conn *c)
{
    struct io_uring_sqe *s = sqe_get();

    s->opcode = IORING_OP_SEND;
    s->fd = c->fd;
    s->addr = (uint64_t)(uintptr_t)(c->fly + c->fly_off);
    s->len = (unsigned)(c->fly_len - c->fly_off);
    s->msg_flags = MSG_NOSIGNAL;
    s->user_data = tag(c, OP_SEND);
    c->refs++;
}

/* Starts sending what is pending, if no send is in flight. */
static void send_next(conn *c)
{
    if (c->fly_len > 0 || c->pend_len == 0 || c->dead)
        return;
    unsigned char *b = c->fly;
    size_t cap = c->fly_cap;

    c->fly = c->pend;
    c->fly_cap = c->pend_cap;
    c->fly_len = c->pend_len;
    c->fly_off = 0;
    c->pend = b;
    c->pend_cap = cap;
    c->pend_len = 0;
    send_fly(c);
}

/* Ends the connection; it is freed once the kernel holds no request of it
 * (shutting the socket down ends the multishot recv). */
static void conn_close(conn *c)
{
    if (!c->dead) {
        c->dead = 1;
        shutdown(c->fd, SHUT_RDWR);
    }
    if (c->refs > 0)
        return;
    close(c->fd);
    free(c->fly);
    free(c->pend);
    free(c);
}

static void pend_append(conn *c, const unsigned char *data, size_t n)
{
    if (c->pend_len + n > c->pend_cap) {
        size_t cap = c->pend_cap ? c->pend_cap : 4096;

        while (cap < c->pend_len + n)
            cap *= 2;
        unsigned char *p = realloc(c->pend, cap);
        if (p == NULL)
            die("realloc");
        c->pend = p;
        c->pend_cap = cap;
    }
    memcpy(c->pend + c->pend_len, data, n);
    c->pend_len += n;
}

static void on_recv(conn *c, const struct io_uring_cqe *e)
{
    int more = e->flags & IORING_CQE_F_MORE;

    if (!more)
        c->refs--;
    if (e->res > 0) {
        unsigned bid = e->flags >> IORING_CQE_BUFFER_SHIFT;

        if (!c->dead)
            pend_append(c, R.bufs + (size_t)bid * BUF_SIZE, (size_t)e->res);
        buf_give(bid);
        send_next(c);
        if (!more && !c->dead)
            arm_recv(c);
    } else if (e->res == -ENOBUFS && !c->dead) {
        arm_recv(c); /* the buffers ran out for a moment */
    } else if (e->res == 0 && !c->dead) {
        c->eof = 1; /* echo what is in flight, then close */
        if (c->fly_len == 0)
            conn_close(c);
    } else if (!more) {
        conn_close(c);
    }
}

static void on_send(conn *c, const struct io_uring_cqe *e)
{
    c->refs--;
    if (e->res < 0 || c->dead) {
        conn_close(c);
        return;
    }
    c->fly_off += (size_t)e->res;
    if (c->fly_off < c->fly_len) {
        send_fly(c);
        return;
    }
    c->fly_len = c->fly_off = 0;
    send_next(c);
    if (c->fly_len == 0 && c->eof)
        conn_close(c);
}

static void on_accept(int lfd, const struct io_uring_cqe *e)
{
    if (!(e->flags & IORING_CQE_F_MORE))
        arm_accept(lfd);
    if (e->res < 0)
        return; /* e.g. EMFILE: the next connection may fare better */
    conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(e->res);
        return;
    }
    c->fd = e->res;
    /* Tuned like every compare peer: TCP_NODELAY, as sockit and raw. */
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    arm_recv(c);
}

static int listen_on(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        die("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        die("bind");
    if (listen(fd, SOMAXCONN) < 0)
        die("listen");
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);

    if (getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        die("getsockname");
    return ntohs(a.sin_port);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: uringecho TCP_PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int lfd = listen_on(atoi(argv[1]));

    ring_setup();
    arm_accept(lfd);
    printf("ready tcp=%d\n", bound_port(lfd));
    fflush(stdout);

    for (;;) {
        enter(1);
        unsigned head = *R.cq_head;
        unsigned tail = atomic_load_explicit((_Atomic unsigned *)R.cq_tail,
                                             memory_order_acquire);
        for (; head != tail; head++) {
            const struct io_uring_cqe *e = &R.cqes[head & *R.cq_mask];
            conn *c = (conn *)(uintptr_t)(e->user_data & ~(uint64_t)3);

            switch ((enum op)(e->user_data & 3)) {
            case OP_ACCEPT:
                on_accept(lfd, e);
                break;
            case OP_RECV:
                on_recv(c, e);
                break;
            case OP_SEND:
                on_send(c, e);
                break;
            }
        }
        atomic_store_explicit((_Atomic unsigned *)R.cq_head, head, memory_order_release);
    }
}
