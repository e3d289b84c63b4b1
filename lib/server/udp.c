/* SPDX-License-Identifier: MIT */
/*
 * lib/server/udp.c - a worker's UDP side: datagrams are received in batches
 * (recvmmsg on Linux, a recvfrom loop elsewhere), handed one by one to
 * on_datagram, and the replies the handler queued with sk_dgram_reply go out
 * together after the batch (sendmmsg on Linux, sendto elsewhere).
 *
 * A reply the socket cannot take at once (send buffer full) is dropped and
 * counted: UDP promises nothing, and a server must not block or queue
 * without bound for a flood of requests.
 *
 * The batch buffers are allocated once per worker, when its first UDP
 * service starts: 32 slots of 64 KiB each way.  They are virtual memory
 * first; only the pages datagrams touch become resident.
 *
 * A service added with SK_SERVER_RXTIME also gets each datagram's receive
 * time: its socket has SO_TIMESTAMPNS on, the batch receive passes a small
 * control buffer per slot, and the SCM_TIMESTAMPNS message is kept for
 * sk_dgram_rxtime.  A datagram without one (no kernel support) gets the
 * clock read right after the batch arrived.  Other services pass no
 * control buffers and pay nothing.
 *
 * A service added with SK_SERVER_RXTTL gets each datagram's TTL or hop
 * limit and TOS or traffic class the same way (IP_RECVTTL, IP_RECVTOS,
 * IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS; a dual-stack socket takes both
 * families' options), for sk_dgram_ttl and sk_dgram_tos.
 */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include "server.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#define UDP_BATCH SK_SERVER_UDP_BATCH
#define UDP_SLOT 65536
#define UDP_ROUNDS 4          /* batches per readiness event, for fairness */
#define UDP_MAX_PAYLOAD SK_SERVER_UDP_MAX /* the largest IPv4 UDP payload */
_Static_assert(UDP_MAX_PAYLOAD <= UDP_SLOT, "a reply must fit its slot");
#define UDP_CTRL 128          /* control bytes per slot: a timespec, TTL and TOS */

#if defined(__linux__)
#define SK__HAVE_MMSG 1
#endif

struct sk_dgram {
    sk__worker *w;
    sk__service *svc;
    const sk_addr *from;
    const struct timespec *rxtime; /* NULL: the service did not ask */
    int ttl, tos; /* -ENOENT: not asked for, or none came */
    bool replied; /* or dropped on purpose (sk_dgram_drop) */
};

typedef struct sk__udp_batch {
    unsigned char *rbuf; /* UDP_BATCH slots of UDP_SLOT bytes */
    unsigned char *wbuf;
    sk_addr from[UDP_BATCH];
    sk_addr to[UDP_BATCH];
    size_t rlen[UDP_BATCH];
    size_t wlen[UDP_BATCH];
    struct timespec rxtime[UDP_BATCH]; /* filled when the service asked */
    short ttl[UDP_BATCH], tos[UDP_BATCH]; /* -1: none (SK_SERVER_RXTTL) */
    int nreply;
#ifdef SK__HAVE_MMSG
    struct mmsghdr rmsg[UDP_BATCH], wmsg[UDP_BATCH];
    struct iovec riov[UDP_BATCH], wiov[UDP_BATCH];
    _Alignas(struct cmsghdr) unsigned char ctrl[UDP_BATCH][UDP_CTRL];
#endif
} sk__udp_batch;

/* ---- receiving and sending a batch ------------------------------------------ */

#ifdef SK__HAVE_MMSG

/* An int control message's value, or the one byte IPv4 TOS comes as. */
static short cmsg_byte(const struct cmsghdr *c)
{
    int v;

    if (c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        memcpy(&v, CMSG_DATA(c), sizeof(v));
        return (short)(v & 0xff);
    }
    return c->cmsg_len >= CMSG_LEN(1) ? *CMSG_DATA(c) : -1;
}

/* Copies slot i's kernel receive timestamp, TTL and TOS, those it has, to
 * rxtime[i], ttl[i] and tos[i]. */
static void slot_cmsgs(sk__udp_batch *b, int i)
{
    struct msghdr *h = &b->rmsg[i].msg_hdr;

    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS &&
            c->cmsg_len >= CMSG_LEN(sizeof(struct timespec)))
            memcpy(&b->rxtime[i], CMSG_DATA(c), sizeof(struct timespec));
        else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
                 (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT))
            b->ttl[i] = cmsg_byte(c);
        else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) ||
                 (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS))
            b->tos[i] = cmsg_byte(c);
    }
}

/* Returns the number of datagrams received (> 0), or -errno (-EAGAIN when
 * none is waiting).  With `rxtime`, each slot's receive time is stored;
 * with `rxttl` its TTL and TOS. */
static int batch_recv(int fd, sk__udp_batch *b, bool rxtime, bool rxttl)
{
    bool ctrl = rxtime || rxttl;
    struct timespec now;
    int n;

    /* The headers point at their slots for good (batch_init); the kernel
     * only rewrites the lengths. */
    for (int i = 0; i < UDP_BATCH; i++) {
        struct msghdr *h = &b->rmsg[i].msg_hdr;

        h->msg_namelen = sizeof(b->from[i].u);
        h->msg_control = ctrl ? b->ctrl[i] : NULL;
        h->msg_controllen = ctrl ? UDP_CTRL : 0;
    }
    do
        n = recvmmsg(fd, b->rmsg, UDP_BATCH, MSG_DONTWAIT, NULL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (rxtime)
        clock_gettime(CLOCK_REALTIME, &now);
    for (int i = 0; i < n; i++) {
        b->from[i].len = b->rmsg[i].msg_hdr.msg_namelen;
        b->rlen[i] = b->rmsg[i].msg_len;
        if (rxtime)
            b->rxtime[i] = now;
        b->ttl[i] = b->tos[i] = -1;
        if (ctrl)
            slot_cmsgs(b, i);
    }
    return n;
}

/* Points every header at its slot's buffers and address, once. */
static void batch_init(sk__udp_batch *b)
{
    for (int i = 0; i < UDP_BATCH; i++) {
        b->riov[i] = (struct iovec){ b->rbuf + (size_t)i * UDP_SLOT, UDP_SLOT };
        b->rmsg[i].msg_hdr = (struct msghdr){
            .msg_name = &b->from[i].u, .msg_iov = &b->riov[i], .msg_iovlen = 1,
        };
        b->wiov[i] = (struct iovec){ b->wbuf + (size_t)i * UDP_SLOT, 0 };
        b->wmsg[i].msg_hdr = (struct msghdr){
            .msg_name = &b->to[i].u, .msg_iov = &b->wiov[i], .msg_iovlen = 1,
        };
    }
}

void sk__udp_enable_rxtime(int fd)
{
    int on = 1;

    /* Without the option the batch's clock reading stands in. */
    (void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
}

void sk__udp_enable_rxttl(int fd)
{
    int on = 1;

    /* Each family's options; the one the socket's family lacks fails and
     * is ignored (a dual-stack IPv6 socket takes both). */
    (void)setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &on, sizeof(on));
    (void)setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &on, sizeof(on));
    (void)setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof(on));
    (void)setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &on, sizeof(on));
}

/* Sends replies [first, nreply).  Returns how many went out (the first of
 * the rest failed or would block), or -errno if the first one failed. */
static int batch_send(int fd, sk__udp_batch *b, int first)
{
    int n;

    for (int i = first; i < b->nreply; i++) {
        b->wiov[i].iov_len = b->wlen[i];
        b->wmsg[i].msg_hdr.msg_namelen = b->to[i].len;
    }
    do
        n = sendmmsg(fd, b->wmsg + first, (unsigned)(b->nreply - first), MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

#else /* !SK__HAVE_MMSG */

/* Without recvmmsg there is no control data either: a datagram's receive
 * time is the clock read right after recvfrom returned it, and it has no
 * TTL or TOS. */
static int batch_recv(int fd, sk__udp_batch *b, bool rxtime, bool rxttl)
{
    (void)rxttl;
    int n = 0;

    while (n < UDP_BATCH) {
        ssize_t r;

        b->from[n].len = sizeof(b->from[n].u);
        r = recvfrom(fd, b->rbuf + (size_t)n * UDP_SLOT, UDP_SLOT, MSG_DONTWAIT,
                     &b->from[n].u.sa, &b->from[n].len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return n > 0 ? n : -errno;
        }
        if (rxtime)
            clock_gettime(CLOCK_REALTIME, &b->rxtime[n]);
        b->ttl[n] = b->tos[n] = -1;
        b->rlen[n++] = (size_t)r;
    }
    return n;
}

static void batch_init(sk__udp_batch *b)
{
    (void)b;
}

void sk__udp_enable_rxtime(int fd)
{
    (void)fd;
}

void sk__udp_enable_rxttl(int fd)
{
    (void)fd;
}

static int batch_send(int fd, sk__udp_batch *b, int first)
{
    int n = 0;

    for (int i = first; i < b->nreply; i++) {
        ssize_t r;

        do
            r = sendto(fd, b->wbuf + (size_t)i * UDP_SLOT, b->wlen[i], MSG_DONTWAIT,
                       &b->to[i].u.sa, b->to[i].len);
        while (r < 0 && errno == EINTR);
        if (r < 0)
            return n > 0 ? n : -errno;
        n++;
    }
    return n;
}

#endif /* SK__HAVE_MMSG */

/* Sends every queued reply.  One that fails is skipped; once the socket
 * would block, the rest are dropped.  Both are counted. */
static void batch_flush(sk__worker *w, const sk__service *svc, int fd, sk__udp_batch *b)
{
    sk__counters *ctr = sk__ctr(svc, w);
    int sent = 0;

    while (sent < b->nreply) {
        int n = batch_send(fd, b, sent);

        if (n > 0) {
            SK__COUNT(ctr, datagrams_out, (uint64_t)n);
            sent += n;
            continue;
        }
        if (n == -EAGAIN || n == -EWOULDBLOCK || n == -ENOBUFS || n == 0) {
            SK__COUNT(ctr, datagrams_dropped, (uint64_t)(b->nreply - sent));
            break;
        }
        SK__COUNT(ctr, datagrams_dropped, 1);
        sk__server_log_error(w, "sendto", n, &b->to[sent]);
        sent++;
    }
    b->nreply = 0;
}

/* ---- the listener ----------------------------------------------------------------- */

static void udp_cb(sk_io *io, int fd, unsigned events, void *arg)
{
    sk__listener *l = arg;
    sk__worker *w = l->w;
    sk__udp_batch *b = w->udp;

    for (int round = 0; round < UDP_ROUNDS && !w->stopping; round++) {
        int n = batch_recv(fd, b, l->svc->rxtime, l->svc->rxttl);

        if (n < 0) {
            if (n != -EAGAIN && n != -EWOULDBLOCK)
                sk__server_log_error(w, "recvfrom", n, &l->svc->bound);
            return;
        }
        SK__COUNT(sk__ctr(l->svc, w), datagrams_in, (uint64_t)n);
        b->nreply = 0;
        for (int i = 0; i < n && l->svc->udp.on_datagram != NULL; i++) {
            sk_dgram d = { w, l->svc, &b->from[i],
                           l->svc->rxtime ? &b->rxtime[i] : NULL,
                           b->ttl[i] >= 0 && l->svc->rxttl ? b->ttl[i] : -ENOENT,
                           b->tos[i] >= 0 && l->svc->rxttl ? b->tos[i] : -ENOENT, false };

            l->svc->udp.on_datagram(&d, b->rbuf + (size_t)i * UDP_SLOT, b->rlen[i],
                                    &b->from[i]);
        }
        batch_flush(w, l->svc, fd, b);
    }
}

int sk__udp_listener_start(sk__listener *l)
{
    sk__worker *w = l->w;

    if (w->udp == NULL) {
        sk__udp_batch *b = calloc(1, sizeof(*b));

        if (b == NULL)
            return -ENOMEM;
        b->rbuf = malloc((size_t)UDP_BATCH * UDP_SLOT);
        b->wbuf = malloc((size_t)UDP_BATCH * UDP_SLOT);
        w->udp = b;
        if (b->rbuf == NULL || b->wbuf == NULL)
            return -ENOMEM; /* freed with the worker */
        batch_init(b);
    }
    return sk_io_start(w->loop, &l->io, l->fd, SK_READABLE, udp_cb, l);
}

void sk__udp_worker_free(sk__worker *w)
{
    if (w->udp == NULL)
        return;
    free(w->udp->rbuf);
    free(w->udp->wbuf);
    free(w->udp);
    w->udp = NULL;
}

/* ---- the public calls --------------------------------------------------------------- */

int sk_dgram_reply(sk_dgram *d, const void *buf, size_t len)
{
    sk__udp_batch *b = d->w->udp;
    int slot;

    if (len > UDP_MAX_PAYLOAD)
        return SK_EMSGSIZE;
    if (d->replied)
        return -EALREADY;
    /* One reply per datagram, and a batch holds at most UDP_BATCH. */
    assert(b->nreply < UDP_BATCH);
    slot = b->nreply++;
    memcpy(b->wbuf + (size_t)slot * UDP_SLOT, buf, len);
    b->wlen[slot] = len;
    b->to[slot] = *d->from;
    d->replied = true;
    return 0;
}

void *sk_dgram_arg(const sk_dgram *d)
{
    return d->svc->arg;
}

void sk_dgram_drop(sk_dgram *d)
{
    if (d->replied)
        return;
    d->replied = true;
    SK__COUNT(sk__ctr(d->svc, d->w), datagrams_refused, 1);
}

sk_loop *sk_dgram_loop(const sk_dgram *d)
{
    return d->w->loop;
}

int sk_dgram_rxtime(const sk_dgram *d, struct timespec *out)
{
    if (d->rxtime == NULL)
        return -ENOENT;
    *out = *d->rxtime;
    return 0;
}

int sk_dgram_ttl(const sk_dgram *d)
{
    return d->ttl;
}

int sk_dgram_tos(const sk_dgram *d)
{
    return d->tos;
}
