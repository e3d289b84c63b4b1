/* SPDX-License-Identifier: MIT */
/*
 * tests/fault/faultshim.c - an LD_PRELOAD library that makes socket I/O misbehave the
 * way a real kernel is allowed to, so that tests can show sockit survives it.
 *
 * Map: configuration from the environment (read once); a per-thread PRNG;
 * the fault decision for one call (decide; decide_wait for the poll
 * family), which draws first and looks at the descriptor only when a fault
 * is drawn; then one wrapper per libc entry point, each calling the real
 * function found with dlsym(RTLD_NEXT), plus syscall(2) for recvfrom and
 * sendto made directly.
 *
 * Environment:
 *   SK_FAULT_SEED     the seed; when unset every wrapper passes through.
 *   SK_FAULT_RATE     percent of calls that are faulted (default 10).
 *   SK_FAULT_KINDS    comma list of short,eintr,eagain,emfile (default all).
 *   SK_FAULT_MAX_RUN  most faults in a row on one descriptor (default 3).
 *   SK_FAULT_SHORT_MIN  transfers of fewer bytes are never shortened
 *                     (default 2: any that can be).  A kernel does not split
 *                     a few bytes on an idle loopback socket, and tests
 *                     whose peer relies on that can raise it.  For a read
 *                     the transfer is what is asked or what is queued,
 *                     whichever is less.
 *   SK_FAULT_STATS    a file that becomes the shared counters (struct
 *                     stats), readable by a test while the process runs.
 *   SK_FAULT_ONLY     fault only calls made from code in a loaded object
 *                     whose path contains this string (e.g. "libsockit"),
 *                     so that a test's own peer, in the executable, is
 *                     not faulted while the library under test is.
 *   SK_FAULT_VERBOSE  print each injected fault on standard error.
 *
 * The faults, and why a correct program must handle each:
 *   short   a stream socket transfers fewer bytes than asked (1..len-1;
 *           for a read, fewer than are queued when that is less).  A
 *           datagram is never truncated, and nothing that is not a stream
 *           socket (pipes, files) is shortened.  recvmmsg/sendmmsg instead
 *           handle fewer messages than asked, each message whole.
 *   eintr   the call fails with EINTR before doing anything: a signal
 *           arrived.  Sockets, pipes, eventfds and devices; not regular
 *           files, which do not sleep interruptibly.  A blocking connect
 *           fails with EINTR as Linux's does: the attempt goes on in the
 *           background (the shim starts it non-blocking, then restores the
 *           descriptor's mode, which another thread could glimpse).
 *           poll, ppoll, epoll_wait and epoll_pwait fail with EINTR as
 *           Linux's do: only when nothing is ready (the kernel reports
 *           ready descriptors before a pending signal), so the shim first
 *           polls without waiting and returns what that found, if anything.
 *   eagain  the call fails with EAGAIN, in bursts of up to MAX_RUN calls,
 *           only on sockets that are non-blocking (O_NONBLOCK, or
 *           MSG_DONTWAIT for that call): a blocking socket never says
 *           EAGAIN.  The caller's level-triggered poll reports the socket
 *           ready again and a later call goes through.
 *   emfile  accept/accept4 fail with EMFILE and accept nothing: the
 *           connection stays queued in the backlog.
 *
 * Progress is guaranteed: after MAX_RUN faults in a row on a descriptor the
 * next call on it goes through untouched.  The PRNG state is thread-local
 * (no locks), seeded from the seed and the order in which threads first
 * reach the shim, so a single-threaded run is reproducible from its seed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define SHIM_EXPORT __attribute__((visibility("default")))

/* Descriptors at or above this are never faulted: the per-descriptor state
 * is a fixed table. */
#define MAX_FD 65536
/* iovec arrays longer than this are never shortened. */
#define MAX_IOV 1024

enum kind {
    K_SHORT = 1 << 0,
    K_EINTR = 1 << 1,
    K_EAGAIN = 1 << 2,
    K_EMFILE = 1 << 3,
};

/* What a wrapper is about to do, for deciding which faults make sense. */
enum op {
    OP_IN,      /* a read of bytes */
    OP_OUT,     /* a write of bytes */
    OP_MMSG,    /* recvmmsg/sendmmsg: the length counts messages */
    OP_ACCEPT,  /* accept/accept4 */
    OP_CONNECT, /* connect */
};

enum action { PASS, FAIL, SHORTEN };

struct verdict {
    enum action action;
    int err;    /* FAIL: the errno to report */
    size_t len; /* SHORTEN: the length to pass on instead */
};

/* The counters SK_FAULT_STATS exposes: eight native-endian uint64 values. */
struct stats {
    uint64_t calls;  /* calls the shim considered faulting */
    uint64_t shorts; /* byte (or message) counts shortened */
    uint64_t eintr;
    uint64_t eagain;
    uint64_t emfile;
    uint64_t spare[3];
};

static struct {
    int state; /* 0 not read yet, 1 off, 2 on */
    uint64_t seed;
    uint32_t rate_ppm; /* faults per million calls */
    unsigned kinds;
    unsigned max_run;
    size_t short_min;
    bool verbose;
} cfg;

/* The code ranges SK_FAULT_ONLY selects (executable segments). */
#define MAX_RANGES 8
static struct {
    uintptr_t lo, hi;
} only[MAX_RANGES];
static int nonly;
static bool only_set;

static struct stats local_stats;
static struct stats *stats = &local_stats;

/* Per descriptor: faults in a row, and EAGAINs still owed by a burst.
 * Relaxed atomics: a race between threads on one descriptor can only
 * shorten or lengthen a run by one, never make it unbounded. */
static unsigned char fd_run[MAX_FD];
static unsigned char fd_burst[MAX_FD];

static unsigned next_thread_index;
static __thread uint64_t rng_state __attribute__((tls_model("initial-exec")));
static __thread bool rng_ready __attribute__((tls_model("initial-exec")));
/* Waits (poll, epoll_wait) are bounded per thread, not per descriptor. */
static __thread unsigned wait_run __attribute__((tls_model("initial-exec")));

/* ---- diagnostics ------------------------------------------------------------ */

/* Writes to standard error by system call, so no wrapper is re-entered. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 1)
        n = (int)sizeof buf - 1;
    if (n > 0)
        (void)!syscall(SYS_write, 2, buf, (size_t)n);
}

/* dlsym(RTLD_NEXT) once per function; the pointer is published atomically
 * so concurrent first calls are harmless (they store the same value). */
static void *resolve(void **slot, const char *name)
{
    void *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);

    if (f == NULL) {
        f = dlsym(RTLD_NEXT, name);
        if (f == NULL) {
            say("faultshim: cannot find the real %s\n", name);
            abort();
        }
        __atomic_store_n(slot, f, __ATOMIC_RELEASE);
    }
    return f;
}

#define REAL(name)                                                           \
    ({                                                                       \
        static void *slot_;                                                  \
        (__typeof__(&name))resolve(&slot_, #name);                           \
    })

/* ---- configuration ---------------------------------------------------------- */

static unsigned parse_kinds(const char *s)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {
        { "short", K_SHORT }, { "eintr", K_EINTR },  { "eagain", K_EAGAIN },
        { "emfile", K_EMFILE }, { "all", K_SHORT | K_EINTR | K_EAGAIN | K_EMFILE },
    };
    unsigned kinds = 0;

    while (*s != '\0') {
        size_t n = strcspn(s, ",");
        bool known = false;

        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            if (strlen(names[i].name) == n && strncmp(names[i].name, s, n) == 0) {
                kinds |= names[i].bit;
                known = true;
            }
        }
        if (!known && n > 0 && cfg.verbose)
            say("faultshim: unknown fault kind '%.*s' ignored\n", (int)n, s);
        s += n;
        if (*s == ',')
            s++;
    }
    return kinds;
}

/* Maps the SK_FAULT_STATS file so that every process (and fork) using it
 * adds to the same counters.  Keeps the private counters on failure. */
static void map_stats(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    void *p;

    if (fd < 0)
        return;
    if (ftruncate(fd, sizeof(struct stats)) == 0) {
        p = mmap(NULL, sizeof(struct stats), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED)
            stats = p;
    }
    close(fd);
}

/* dl_iterate_phdr callback: records the executable segments of objects
 * whose path contains the SK_FAULT_ONLY string. */
static int find_only(struct dl_phdr_info *info, size_t size, void *arg)
{
    const char *want = arg, *name = info->dlpi_name;
    char self[4096];

    (void)size;
    /* The main program is listed without a name. */
    if (name == NULL || *name == '\0') {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

        self[n > 0 ? n : 0] = '\0';
        name = self;
    }
    if (strstr(name, want) == NULL)
        return 0;
    for (int i = 0; i < info->dlpi_phnum && nonly < MAX_RANGES; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            only[nonly].lo = info->dlpi_addr + ph->p_vaddr;
            only[nonly].hi = only[nonly].lo + ph->p_memsz;
            nonly++;
        }
    }
    return 0;
}

/* Reads the environment once.  Runs from the constructor, and from the
 * first wrapper call if that comes earlier (another library's
 * constructor); a race between two first calls only repeats the work. */
static void configure(void)
{
    const char *seed = getenv("SK_FAULT_SEED");
    const char *rate = getenv("SK_FAULT_RATE");
    const char *kinds = getenv("SK_FAULT_KINDS");
    const char *run = getenv("SK_FAULT_MAX_RUN");
    const char *short_min = getenv("SK_FAULT_SHORT_MIN");
    const char *path = getenv("SK_FAULT_STATS");
    double pct = rate != NULL ? strtod(rate, NULL) : 10.0;

    if (seed == NULL || *seed == '\0') {
        __atomic_store_n(&cfg.state, 1, __ATOMIC_RELEASE);
        return;
    }
    cfg.verbose = getenv("SK_FAULT_VERBOSE") != NULL;
    cfg.seed = strtoull(seed, NULL, 0);
    if (!(pct >= 0))
        pct = 0;
    if (pct > 100)
        pct = 100;
    cfg.rate_ppm = (uint32_t)(pct * 10000.0);
    cfg.kinds = kinds != NULL ? parse_kinds(kinds) : (K_SHORT | K_EINTR | K_EAGAIN | K_EMFILE);
    cfg.max_run = run != NULL ? (unsigned)strtoul(run, NULL, 10) : 3;
    if (cfg.max_run < 1)
        cfg.max_run = 1;
    if (cfg.max_run > 100)
        cfg.max_run = 100;
    cfg.short_min = short_min != NULL ? (size_t)strtoul(short_min, NULL, 10) : 2;
    if (cfg.short_min < 2)
        cfg.short_min = 2;
    if (path != NULL && *path != '\0')
        map_stats(path);
    /* Objects linked at start-up are mapped before any constructor runs,
     * so the ranges are complete here; one loaded later is not faulted. */
    if (getenv("SK_FAULT_ONLY") != NULL) {
        only_set = true;
        dl_iterate_phdr(find_only, (void *)getenv("SK_FAULT_ONLY"));
        if (nonly == 0 && cfg.verbose)
            say("faultshim: no loaded object matches SK_FAULT_ONLY=%s: "
                "nothing will be faulted\n", getenv("SK_FAULT_ONLY"));
    }
    __atomic_store_n(&cfg.state, 2, __ATOMIC_RELEASE);
}

__attribute__((constructor)) static void shim_init(void)
{
    if (__atomic_load_n(&cfg.state, __ATOMIC_ACQUIRE) == 0)
        configure();
}

static bool enabled(void)
{
    int s = __atomic_load_n(&cfg.state, __ATOMIC_ACQUIRE);

    if (s == 0) {
        configure();
        s = __atomic_load_n(&cfg.state, __ATOMIC_ACQUIRE);
    }
    return s == 2;
}

/* ---- the per-thread generator --------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The next value of this thread's xorshift64* stream. */
static uint64_t rnd(void)
{
    if (!rng_ready) {
        uint64_t x = cfg.seed ^ ((uint64_t)__atomic_fetch_add(&next_thread_index, 1,
                                                               __ATOMIC_RELAXED)
                                 << 32);

        rng_state = splitmix64(&x);
        if (rng_state == 0)
            rng_state = 1;
        rng_ready = true;
    }
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* A value in [0, n), n > 0. */
static uint64_t rnd_below(uint64_t n)
{
    return rnd() % n;
}

/* ---- the decision ----------------------------------------------------------------- */

/* What the descriptor is, learnt only when a fault is being considered:
 * fds are reused for other kinds of files, so nothing is cached. */
struct fdinfo {
    bool socket;
    bool stream; /* SOCK_STREAM socket */
    bool interruptible; /* not a regular file, directory or block device */
    bool nonblocking;
    size_t queued; /* stream socket: bytes waiting to be read (0: unknown) */
};

static struct fdinfo inspect(int fd)
{
    struct fdinfo fi = { 0 };
    int type = 0;
    socklen_t len = sizeof type;
    int saved = errno;

    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0) {
        int fl = fcntl(fd, F_GETFL);

        fi.socket = true;
        fi.interruptible = true;
        fi.stream = type == SOCK_STREAM;
        fi.nonblocking = fl >= 0 && (fl & O_NONBLOCK) != 0;
        if (fi.stream) {
            int q = 0;

            if (ioctl(fd, FIONREAD, &q) == 0 && q > 0)
                fi.queued = (size_t)q;
        }
    } else {
        struct stat st;

        fi.interruptible = fstat(fd, &st) == 0 && !S_ISREG(st.st_mode) &&
                           !S_ISDIR(st.st_mode) && !S_ISBLK(st.st_mode);
    }
    errno = saved;
    return fi;
}

/* How many bytes the call would move: what is asked, or for a read what
 * is queued when that is less (a read asking for more gets what is there,
 * so only a cut below that is a short count). */
static size_t transfer(const struct fdinfo *fi, enum op op, size_t len)
{
    if (op == OP_IN && fi->queued > 0 && fi->queued < len)
        return fi->queued;
    return len;
}

/* The faults that make sense for this call on this descriptor. */
static unsigned eligible(const struct fdinfo *fi, enum op op, size_t len, int msgflags)
{
    unsigned k = 0;

    if (fi->interruptible)
        k |= K_EINTR;
    if (fi->socket && (fi->nonblocking || (msgflags & MSG_DONTWAIT)))
        k |= K_EAGAIN;
    if (op == OP_ACCEPT && fi->socket)
        k |= K_EMFILE;
    /* A non-blocking connect says EINPROGRESS, never EINTR or EAGAIN. */
    if (op == OP_CONNECT)
        k &= fi->socket && !fi->nonblocking ? K_EINTR : 0;
    if (op == OP_MMSG && fi->socket && len >= 2)
        k |= K_SHORT;
    if ((op == OP_IN || op == OP_OUT) && fi->stream && transfer(fi, op, len) >= cfg.short_min)
        k |= K_SHORT;
    return k & cfg.kinds;
}

/* strerror is not async-signal-safe, and wrappers run in signal handlers. */
static const char *err_name(int err)
{
    return err == EINTR ? "EINTR" : err == EAGAIN ? "EAGAIN" : "EMFILE";
}

static const char *op_name(enum op op)
{
    switch (op) {
    case OP_IN:
        return "in";
    case OP_OUT:
        return "out";
    case OP_MMSG:
        return "mmsg";
    case OP_CONNECT:
        return "connect";
    default:
        return "accept";
    }
}

/* Picks one of the kinds in `k` (not empty) and builds its verdict.
 * `room` is the transfer a short count cuts (see transfer()). */
static struct verdict inject(int fd, unsigned k, size_t len, size_t room, enum op op)
{
    unsigned choices[4], n = 0;
    struct verdict v = { PASS, 0, len };

    for (unsigned bit = 1; bit <= K_EMFILE; bit <<= 1)
        if (k & bit)
            choices[n++] = bit;
    switch (choices[rnd_below(n)]) {
    case K_SHORT:
        /* A quarter of the shortened calls move a single unit: the
         * smallest progress is where off-by-one bugs live. */
        v.action = SHORTEN;
        v.len = rnd_below(4) == 0 ? 1 : 1 + (size_t)rnd_below(room - 1);
        __atomic_fetch_add(&stats->shorts, 1, __ATOMIC_RELAXED);
        break;
    case K_EINTR:
        v.action = FAIL;
        v.err = EINTR;
        __atomic_fetch_add(&stats->eintr, 1, __ATOMIC_RELAXED);
        break;
    case K_EAGAIN:
        v.action = FAIL;
        v.err = EAGAIN;
        __atomic_store_n(&fd_burst[fd], (unsigned char)rnd_below(cfg.max_run),
                         __ATOMIC_RELAXED);
        __atomic_fetch_add(&stats->eagain, 1, __ATOMIC_RELAXED);
        break;
    default:
        v.action = FAIL;
        v.err = EMFILE;
        __atomic_fetch_add(&stats->emfile, 1, __ATOMIC_RELAXED);
        break;
    }
    __atomic_fetch_add(&fd_run[fd], 1, __ATOMIC_RELAXED);
    if (cfg.verbose)
        say("faultshim: fd %d %s len %zu: %s\n", fd, op_name(op), len,
            v.action == SHORTEN ? "short" : err_name(v.err));
    return v;
}

/* Whether a call returning to `caller` may be faulted (SK_FAULT_ONLY). */
static bool caller_selected(const void *caller)
{
    uintptr_t a = (uintptr_t)caller;

    if (!only_set)
        return true;
    for (int i = 0; i < nonly; i++)
        if (a >= only[i].lo && a < only[i].hi)
            return true;
    return false;
}

/*
 * Decides the fate of one call: pass it through, fail it before it runs, or
 * run it with a smaller length.  `caller` is the wrapper's return address.
 * The draw comes first so that the descriptor is inspected (two system
 * calls) only for calls drawn to fail.
 */
static struct verdict decide(int fd, enum op op, size_t len, int msgflags, const void *caller)
{
    struct verdict pass = { PASS, 0, len };

    if (!enabled() || fd < 0 || fd >= MAX_FD || !caller_selected(caller))
        return pass;
    __atomic_fetch_add(&stats->calls, 1, __ATOMIC_RELAXED);

    unsigned run = __atomic_load_n(&fd_run[fd], __ATOMIC_RELAXED);

    if (run >= cfg.max_run) {
        __atomic_store_n(&fd_run[fd], 0, __ATOMIC_RELAXED);
        __atomic_store_n(&fd_burst[fd], 0, __ATOMIC_RELAXED);
        return pass;
    }
    /* An EAGAIN burst goes on while the call may say EAGAIN at all. */
    if (__atomic_load_n(&fd_burst[fd], __ATOMIC_RELAXED) > 0) {
        struct fdinfo fi = inspect(fd);

        __atomic_fetch_sub(&fd_burst[fd], 1, __ATOMIC_RELAXED);
        if (eligible(&fi, op, len, msgflags) & K_EAGAIN) {
            __atomic_fetch_add(&fd_run[fd], 1, __ATOMIC_RELAXED);
            __atomic_fetch_add(&stats->eagain, 1, __ATOMIC_RELAXED);
            if (cfg.verbose)
                say("faultshim: fd %d %s len %zu: %s (burst)\n", fd, op_name(op), len,
                    err_name(EAGAIN));
            return (struct verdict){ FAIL, EAGAIN, len };
        }
    }
    if (rnd_below(1000000) >= cfg.rate_ppm) {
        __atomic_store_n(&fd_run[fd], 0, __ATOMIC_RELAXED);
        return pass;
    }

    struct fdinfo fi = inspect(fd);
    unsigned k = eligible(&fi, op, len, msgflags);

    if (k == 0) {
        __atomic_store_n(&fd_run[fd], 0, __ATOMIC_RELAXED);
        return pass;
    }
    return inject(fd, k, len, transfer(&fi, op, len), op);
}

/* Whether a wait (poll family) fails with EINTR before waiting. */
static bool decide_wait(const void *caller)
{
    if (!enabled() || !(cfg.kinds & K_EINTR) || !caller_selected(caller))
        return false;
    __atomic_fetch_add(&stats->calls, 1, __ATOMIC_RELAXED);
    if (wait_run >= cfg.max_run || rnd_below(1000000) >= cfg.rate_ppm) {
        wait_run = 0;
        return false;
    }
    wait_run++;
    __atomic_fetch_add(&stats->eintr, 1, __ATOMIC_RELAXED);
    if (cfg.verbose)
        say("faultshim: wait: EINTR\n");
    return true;
}

/* ---- iovec helpers ------------------------------------------------------------------ */

static size_t iov_total(const struct iovec *iov, int cnt)
{
    size_t t = 0;

    for (int i = 0; i < cnt; i++)
        t += iov[i].iov_len;
    return t;
}

/* Copies iov into out, cut so that it holds `limit` bytes in all; returns
 * the new count. */
static int iov_cut(struct iovec *out, const struct iovec *iov, int cnt, size_t limit)
{
    int n = 0;

    for (int i = 0; i < cnt && limit > 0; i++) {
        out[n] = iov[i];
        if (out[n].iov_len > limit)
            out[n].iov_len = limit;
        limit -= out[n].iov_len;
        n++;
    }
    return n;
}

/* The verdict for a vectored call: shortening needs a bounded array. */
static struct verdict decide_iov(int fd, enum op op, const struct iovec *iov, int cnt,
                                 int msgflags, const void *caller)
{
    size_t total = (cnt > 0 && cnt <= MAX_IOV) ? iov_total(iov, cnt) : 0;

    return decide(fd, op, total, msgflags, caller);
}

/* ---- the wrappers ------------------------------------------------------------------- */

/* Where the wrapper will return to: the code that made the call. */
#define CALLER __builtin_return_address(0)

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    struct verdict v = decide(fd, OP_IN, n, 0, CALLER);

    if (v.action == FAIL) {
        errno = v.err;
        return -1;
    }
    return REAL(read)(fd, buf, v.len);
}

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
    struct verdict v = decide(fd, OP_OUT, n, 0, CALLER);

    if (v.action == FAIL) {
        errno = v.err;
        return -1;
    }
    return REAL(write)(fd, buf, v.len);
}

SHIM_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    struct verdict v = decide(fd, OP_IN, n, flags, CALLER);

    if (v.action == FAIL) {
        errno = v.err;
        return -1;
    }
    return REAL(recv)(fd, buf, v.len, flags);
}

SHIM_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    struct verdict v = decide(fd, OP_OUT, n, flags, CALLER);

    if (v.action == FAIL) {
        errno = v.err;
        return -1;
    }
    return REAL(send)(fd, buf, v.len, flags);
}

SHIM_EXPORT ssize_t recvfrom(int fd, void *__restrict buf, size_t n, int flags,
                             __SOCKADDR_ARG addr, socklen_t *__restrict alen)
{
    struct verdict v = decide(fd, OP_IN, n, flags, CALLER);

    if (v.action == FAIL) {
        errno = v.err;
        return -1;
    }
    return REAL(recvfrom)(fd, buf, v.len, flags, addr, alen);
}

SHIM_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
                           __CONST_SOCKADDR_ARG addr, socklen_t alen)
{
    struct verdict v = decide(fd, OP_OUT, n, flags, CALLER);

    if (v.action == FAIL) {
        errno = v.err;
        return -1;
    }
    return REAL(sendto)(fd, buf, v.len, flags, addr, alen);
}

/* The library makes its non-blocking sends and receives as direct system
 * calls (sk__sys_send and friends, lib/internal.h), which skip the libc
 * entry points above; recvfrom and sendto made that way are faulted like
 * theirs.  Every other system call passes through untouched.  Six
 * arguments are always forwarded, as the kernel's calling convention
 * allows (glibc's own syscall does the same). */
SHIM_EXPORT long syscall(long nr, ...)
{
    va_list ap;
    long a[6];

    va_start(ap, nr);
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (nr == SYS_recvfrom || nr == SYS_sendto) {
        struct verdict v = decide((int)a[0], nr == SYS_recvfrom ? OP_IN : OP_OUT,
                                  (size_t)a[2], (int)a[3], CALLER);

        if (v.action == FAIL) {
            errno = v.err;
            return -1;
        }
        a[2] = (long)v.len;
    }
    return REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

SHIM_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    struct verdict v = decide_iov(fd, OP_IN, iov, cnt, 0, CALLER);
    struct iovec cut[MAX_IOV];

    if (v.action == FAIL) {
        errno = v.err;
        return -1;
    }
    if (v.action == SHORTEN)
        return REAL(readv)(fd, cut, iov_cut(cut, iov, cnt, v.len));
    return REAL(readv)(fd, iov, cnt);
}

SHIM_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    struct verdict v = decide_iov(fd, OP_OUT, iov, cnt, 0, CALLER);
    struct iovec cut[MAX_IOV];

    if (v.action == FAIL) {
        errno = v.err;
        return -1;
    }
    if (v.action == SHORTEN)
        return REAL(writev)(fd, cut, iov_cut(cut, iov, cnt, v.len));
    return REAL(writev)(fd, iov, cnt);
}

SHIM_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    int cnt = (int)msg->msg_iovlen;
    struct verdict v = decide_iov(fd, OP_IN, msg->msg_iov, cnt, flags, CALLER);
    struct iovec cut[MAX_IOV];
    struct msghdr m;
    ssize_t r;

    if (v.action == FAIL) {
        errno = v.err;
        return -1;
    }
    if (v.action == PASS)
        return REAL(recvmsg)(fd, msg, flags);
    /* The kernel writes the name length, the control length and the flags
     * back into the header: copy them to the caller's. */
    m = *msg;
    m.msg_iov = cut;
    m.msg_iovlen = (size_t)iov_cut(cut, msg->msg_iov, cnt, v.len);
    r = REAL(recvmsg)(fd, &m, flags);
    msg->msg_namelen = m.msg_namelen;
    msg->msg_controllen = m.msg_controllen;
    msg->msg_flags = m.msg_flags;
    return r;
}

SHIM_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    int cnt = (int)msg->msg_iovlen;
    struct verdict v = decide_iov(fd, OP_OUT, msg->msg_iov, cnt, flags, CALLER);
    struct iovec cut[MAX_IOV];
    struct msghdr m;

    if (v.action == FAIL) {
        errno = v.err;
        return -1;
    }
    if (v.action == PASS)
        return REAL(sendmsg)(fd, msg, flags);
    m = *msg;
    m.msg_iov = cut;
    m.msg_iovlen = (size_t)iov_cut(cut, msg->msg_iov, cnt, v.len);
    return REAL(sendmsg)(fd, &m, flags);
}

SHIM_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags,
                         struct timespec *tmo)
{
    struct verdict v = decide(fd, OP_MMSG, vlen, flags, CALLER);

    if (v.action == FAIL) {
        errno = v.err;
        return -1;
    }
    return REAL(recvmmsg)(fd, vec, (unsigned)v.len, flags, tmo);
}

SHIM_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
    struct verdict v = decide(fd, OP_MMSG, vlen, flags, CALLER);

    if (v.action == FAIL) {
        errno = v.err;
        return -1;
    }
    return REAL(sendmmsg)(fd, vec, (unsigned)v.len, flags);
}

SHIM_EXPORT int accept(int fd, __SOCKADDR_ARG addr, socklen_t *__restrict alen)
{
    struct verdict v = decide(fd, OP_ACCEPT, 0, 0, CALLER);

    if (v.action == FAIL) {
        errno = v.err;
        return -1;
    }
    return REAL(accept)(fd, addr, alen);
}

SHIM_EXPORT int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *__restrict alen, int flags)
{
    struct verdict v = decide(fd, OP_ACCEPT, 0, 0, CALLER);

    if (v.action == FAIL) {
        errno = v.err;
        return -1;
    }
    return REAL(accept4)(fd, addr, alen, flags);
}

SHIM_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    if (decide_wait(CALLER)) {
        int r = REAL(poll)(fds, n, 0);

        if (r != 0)
            return r;
        errno = EINTR;
        return -1;
    }
    return REAL(poll)(fds, n, timeout);
}

SHIM_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *tmo,
                      const sigset_t *mask)
{
    static const struct timespec zero = { 0, 0 };
    if (decide_wait(CALLER)) {
        int r = REAL(ppoll)(fds, n, &zero, mask);

        if (r != 0)
            return r;
        errno = EINTR;
        return -1;
    }
    return REAL(ppoll)(fds, n, tmo, mask);
}

SHIM_EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
    if (decide_wait(CALLER)) {
        int r = REAL(epoll_wait)(epfd, ev, max, 0);

        if (r != 0)
            return r;
        errno = EINTR;
        return -1;
    }
    return REAL(epoll_wait)(epfd, ev, max, timeout);
}

SHIM_EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout,
                            const sigset_t *mask)
{
    if (decide_wait(CALLER)) {
        int r = REAL(epoll_pwait)(epfd, ev, max, 0, mask);

        if (r != 0)
            return r;
        errno = EINTR;
        return -1;
    }
    return REAL(epoll_pwait)(epfd, ev, max, timeout, mask);
}

/*
 * An interrupted blocking connect: Linux goes on connecting in the
 * background and reports EINTR; a caller waits for writability and reads
 * SO_ERROR (calling connect again would say EALREADY).  So the attempt is
 * started non-blocking and the descriptor's mode put back.
 */
static int connect_interrupted(int fd, const struct sockaddr *addr, socklen_t alen)
{
    int fl = fcntl(fd, F_GETFL), r, err;

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return REAL(connect)(fd, addr, alen);
    r = REAL(connect)(fd, addr, alen);
    err = errno;
    fcntl(fd, F_SETFL, fl);
    if (r < 0 && err == EINPROGRESS)
        err = EINTR;
    errno = err;
    return r;
}

SHIM_EXPORT int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t alen)
{
    struct verdict v = decide(fd, OP_CONNECT, 0, 0, CALLER);

    if (v.action == FAIL)
        return connect_interrupted(fd, addr.__sockaddr__, alen);
    return REAL(connect)(fd, addr, alen);
}

/*
 * The _FORTIFY_SOURCE entry points: a program built with fortification
 * calls these instead of read/recv/recvfrom.  The buffer check stays the
 * real function's.
 */
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *__restrict buf, size_t n, size_t buflen, int flags,
                       __SOCKADDR_ARG addr, socklen_t *__restrict alen);

SHIM_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    struct verdict v = decide(fd, OP_IN, n, 0, CALLER);

    if (v.action == FAIL) {
        errno = v.err;
        return -1;
    }
    return REAL(__read_chk)(fd, buf, v.len, buflen);
}

SHIM_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
    struct verdict v = decide(fd, OP_IN, n, flags, CALLER);

    if (v.action == FAIL) {
        errno = v.err;
        return -1;
    }
    return REAL(__recv_chk)(fd, buf, v.len, buflen, flags);
}

SHIM_EXPORT ssize_t __recvfrom_chk(int fd, void *__restrict buf, size_t n, size_t buflen,
                                   int flags, __SOCKADDR_ARG addr,
                                   socklen_t *__restrict alen)
{
    struct verdict v = decide(fd, OP_IN, n, flags, CALLER);

    if (v.action == FAIL) {
        errno = v.err;
        return -1;
    }
    return REAL(__recvfrom_chk)(fd, buf, v.len, buflen, flags, addr, alen);
}
