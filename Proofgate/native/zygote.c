/*
proofgate's elaboration zygote, native side (docs/audit-design.md, section 4 "Zygote start",
section 6 requirement 1, section 9 step 7). Linked into `proofgate-elab` only (lakefile.lean,
`target zygote.o`); bound in Lean by `Proofgate/Zygote.lean`.

UNTESTED AGAINST REAL LEAN. It has never run: no Lean toolchain runs where proofgate is
developed. It was compile-checked with the host gcc against declarations copied from lean.h
(-std=c11 -Wall -Wextra), not against a real lean.h nor linked with Lean's runtime.

The protocol is `src/proofgate/lean/zygote.py`'s (authoritative) and the stand-in's
(`tests/standins/zygote.py`): the channel, a SOCK_SEQPACKET socket, is fd 3; 16-byte commands
`u64 id, u32 op (1 FORK, 2 KILL), u32 0`, FORK carrying three descriptors by SCM_RIGHTS (request
pipe's read end, reply and export pipes' write ends); 24-byte answers `u64 id, u32 kind (1 STARTED,
2 EXITED), u32 0, i64 value` (pid or -errno, then the exit status as Python's
`os.waitstatus_to_exitcode`: the code, or minus the signal number). KILL sends SIGKILL to that
child. The end of the channel: every child killed, exit 0.

API (the Lean side, `Proofgate/Zygote.lean`):
- `proofgate_zygote_prepare`: after the header's import and elaboration, with the emitted `main`'s
  task manager still running (design, zygote start, variant B): `lean_finalize_task_manager()`
  (it lets the workers drain the queue, then joins them), `finalize_libuv()` (joins the event-loop
  thread; terminal: later uv calls fail with UV_ECANCELED), then `PR_SET_DUMPABLE 0`. Returns the
  number of threads left (must be 1).
- `proofgate_zygote_threads`: the number of threads (`Threads:` of /proc/self/status).
- `proofgate_zygote_serve(threads)`: serves the channel. In the zygote it never returns (exit 0 at
  the end of the channel; exit 3 with one stderr line `{"error": "zygote_unsafe", ...}` when,
  before a fork, the process has more than one thread: the service condemns the zygote, whose
  channel closes, and starts another). In a child it returns the request id, after: fds 3, 4, 5
  the three received, 0-2 on /dev/null, every other fd closed, PR_SET_PDEATHSIG SIGKILL,
  PR_SET_NO_NEW_PRIVS, the seccomp filter below, and a fresh task manager
  (`lean_init_task_manager_using(threads)`, or `lean_init_task_manager()` (LEAN_NUM_THREADS, else
  the core count) when `threads` is 0).
- `proofgate_zygote_read_request(max)`: fd 3 to its end, at most `max + 1` bytes, as a ByteArray.
- `proofgate_zygote_write(fd, bytes)`: all of `bytes` on `fd`.
- `proofgate_zygote_exit(code)`: `_exit(code)`, no atexit handlers or static destructors (a
  child's runtime state is the zygote's copy).

Why not the design's own `main` (section 4, zygote start, step 1): `lean_exe` emits `main`, which
runs the module initialisers, `lean_io_mark_end_initialization`, then `lean_init_task_manager`;
a second `main` here would clash. The emitted one is kept, and `prepare` undoes its two extra
threads (task-manager workers, libuv loop) instead; `serve` checks the result before every fork.

The child's seccomp filter, raw BPF (the stand-in's `child_filter`, plus what it lacks, marked +):
the architecture is checked (x86_64, aarch64; any other: the process is killed), x32 syscall
numbers are refused; `ptrace`, `process_vm_readv`, `process_vm_writev`, `socket`, `socketpair`,
`connect`, `execve`, `execveat` EPERM; `clone3` ENOSYS (so the C library falls back to `clone`,
whose flags can be read); `clone` without CLONE_THREAD EPERM; `kill`, `tkill`, `tgkill` of a pid
other than the child's own EPERM; + `fork`, `vfork` (x86_64 only) EPERM; + `rt_sigqueueinfo`,
`rt_tgsigqueueinfo` of another pid EPERM; + `pidfd_open`, `pidfd_send_signal` EPERM (both signal a
sibling otherwise). Everything else is allowed (design section 10, question 9: the full list is
spike S5).

Headers: none but lean.h (and, through it, the compiler's own stdint/stddef/stdbool/limits/float).
Lake compiles this with the toolchain's clang (`buildLeanO`), which runs with `-nostdinc -isystem
ROOT/include/clang`: no C library or kernel header is visible. So the few libc functions, the
structures (msghdr, cmsghdr, iovec, pollfd, sock_filter) and the constants used are declared here
for Linux x86_64 and aarch64 (LP64, glibc), whose layouts they follow.

Sources read (stored versions of leanprover/lean4 unless said; not necessarily the v4.32.0 tag):
- `src/include/lean/lean.h`: `lean_obj_res`, `b_lean_obj_arg`, `lean_io_result_mk_ok`,
  `lean_io_result_mk_error`, `lean_box`, `lean_box_uint32`, `lean_box_uint64`,
  `lean_decode_io_error(int, b_lean_obj_arg)`, `lean_mk_io_user_error`, `lean_mk_string`,
  `lean_alloc_sarray`, `lean_sarray_cptr`, `lean_sarray_size`, `lean_init_task_manager`,
  `lean_init_task_manager_using(unsigned)`, `lean_finalize_task_manager(void)`; IO externs take
  the world as a last `lean_obj_arg` (`src/runtime/io.cpp`, `lean_io_prim_handle_get_line`);
- `src/runtime/object.cpp`: `lean_init_task_manager_using` (no manager for 0 workers),
  `lean_init_task_manager` (LEAN_NUM_THREADS, else `hardware_concurrency`),
  `lean_finalize_task_manager` (deletes the manager: `~task_manager` sets `m_shutting_down`,
  workers finish the queue, all standard workers joined; detached dedicated workers are not);
  tasks spawned with no manager run inline;
- `src/runtime/init_module.cpp`: `lean_initialize_runtime_module` ends with `initialize_libuv`;
- `src/runtime/libuv.cpp`: `initialize_libuv` starts the loop `lthread`; `extern "C" void
  finalize_libuv()` stops and joins it and tears the loop down, "terminal ... every subsequent uv
  operation fails with UV_ECANCELED" (not LEAN_EXPORT: reachable in a static link only; declared
  weak here, and skipped when absent, the thread check then says so);
- the C `main` Lean emits for an executable (a `main` shim in lean4's tests, string search):
  initialise, module initialiser, `lean_io_mark_end_initialization`, `lean_init_task_manager`,
  `lean_main`, `lean_finalize_task_manager`;
- Lean's `LEANC_INTERNAL_FLAGS` (`-nostdinc -isystem ROOT/include/clang`, lean4's CI scripts).
Used from memory, not read: the Linux ABI (syscall numbers, `seccomp_data` offsets, BPF opcodes,
AUDIT_ARCH values, SECCOMP_RET values, prctl numbers, SCM_RIGHTS and the glibc LP64 layouts of
msghdr/cmsghdr), the glibc functions declared below, `close_range` (kernel 5.9) and `pidfd_open`
(5.3) numbers, the `Threads:` line of /proc/self/status.
*/
#include <lean/lean.h>

/* ---- libc and kernel declarations (see the header comment) ---- */

typedef long ssize_t_;
typedef int pid_t_;
struct iovec_ { void *iov_base; size_t iov_len; };
struct msghdr_ {
    void *msg_name; unsigned msg_namelen;
    struct iovec_ *msg_iov; size_t msg_iovlen;
    void *msg_control; size_t msg_controllen;
    int msg_flags;
};
struct cmsghdr_ { size_t cmsg_len; int cmsg_level; int cmsg_type; };
struct pollfd_ { int fd; short events; short revents; };
struct sock_filter_ { uint16_t code; uint8_t jt; uint8_t jf; uint32_t k; };
struct sock_fprog_ { unsigned short len; struct sock_filter_ *filter; };

extern int *__errno_location(void);
extern pid_t_ fork(void);
extern pid_t_ getpid(void);
extern pid_t_ getppid(void);
extern pid_t_ waitpid(pid_t_ pid, int *status, int options);
extern int kill(pid_t_ pid, int sig);
extern int close(int fd);
extern int dup2(int oldfd, int newfd);
extern int fcntl(int fd, int cmd, ...);
extern int open(const char *path, int flags, ...);
extern ssize_t_ read(int fd, void *buf, size_t n);
extern ssize_t_ write(int fd, const void *buf, size_t n);
extern ssize_t_ recvmsg(int fd, struct msghdr_ *msg, int flags);
extern ssize_t_ sendmsg(int fd, const struct msghdr_ *msg, int flags);
extern int poll(struct pollfd_ *fds, unsigned long n, int timeout);
extern int prctl(int option, ...);
extern long syscall(long number, ...);
extern void _exit(int status) __attribute__((noreturn));

#define errno_ (*__errno_location())
#define EINTR_ 4
#define EBADF_ 9
#define EAGAIN_ 11
#define EPERM_ 1
#define EINVAL_ 22
#define ENOSYS_ 38
#define ECHILD_ 10
#define O_RDONLY_ 0
#define O_RDWR_ 2
#define O_CLOEXEC_ 02000000
#define F_DUPFD_ 0
#define SIGKILL_ 9
#define WNOHANG_ 1
#define POLLIN_ 0x001
#define SOL_SOCKET_ 1
#define SCM_RIGHTS_ 1
#define MSG_NOSIGNAL_ 0x4000
#define MSG_CTRUNC_ 0x8
#define MSG_CMSG_CLOEXEC_ 0x40000000
#define PR_SET_PDEATHSIG_ 1
#define PR_SET_DUMPABLE_ 4
#define PR_SET_SECCOMP_ 22
#define PR_SET_NO_NEW_PRIVS_ 38
#define SECCOMP_MODE_FILTER_ 2
#define SECCOMP_RET_KILL_PROCESS_ 0x80000000u
#define SECCOMP_RET_ERRNO_ 0x00050000u
#define SECCOMP_RET_ALLOW_ 0x7fff0000u
#define AUDIT_ARCH_X86_64_ 0xC000003Eu
#define AUDIT_ARCH_AARCH64_ 0xC00000B7u
#define X32_SYSCALL_BIT_ 0x40000000u
#define CLONE_THREAD_ 0x00010000u
#define BPF_LD_W_ABS_ 0x20
#define BPF_JEQ_K_ 0x15
#define BPF_JGE_K_ 0x35
#define BPF_JSET_K_ 0x45
#define BPF_RET_K_ 0x06
#define NR_PIDFD_OPEN_ 434   /* the same on x86_64 and aarch64 */
#define NR_CLOSE_RANGE_ 436  /* likewise */

/* the runtime's libuv teardown (src/runtime/libuv.cpp); weak: absent, it is skipped */
extern void finalize_libuv(void) __attribute__((weak));

/* ---- protocol ---- */

#define CHANNEL_FD 3
#define OP_FORK 1u
#define OP_KILL 2u
#define KIND_STARTED 1u
#define KIND_EXITED 2u
#define MAX_CHILDREN 1024
#define EXIT_UNSAFE 3

struct child { uint64_t id; pid_t_ pid; int pidfd; };
static struct child g_children[MAX_CHILDREN];
static int g_count = 0;

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint32_t get_u32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static size_t cstrlen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }

static void write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t_ k = write(fd, p, n);
        if (k < 0) { if (errno_ == EINTR_) continue; return; }
        p += k; n -= (size_t)k;
    }
}

static void kill_all_children(void) {
    for (int i = 0; i < g_count; i++) kill(g_children[i].pid, SIGKILL_);
}

/* One answer; a channel that cannot take it is a service gone: every child killed, exit 0. */
static void answer(uint64_t id, uint32_t kind, int64_t value) {
    unsigned char msg[24];
    put_u64(msg, id); put_u32(msg + 8, kind); put_u32(msg + 12, 0);
    put_u64(msg + 16, (uint64_t)value);
    struct iovec_ iov = { msg, sizeof msg };
    struct msghdr_ h = { 0, 0, &iov, 1, 0, 0, 0 };
    for (;;) {
        if (sendmsg(CHANNEL_FD, &h, MSG_NOSIGNAL_) == (ssize_t_)sizeof msg) return;
        if (errno_ == EINTR_) continue;
        kill_all_children();
        _exit(0);
    }
}

/* Python's os.waitstatus_to_exitcode on Linux's encoding. */
static int64_t exit_code(int status) {
    int low = status & 0x7f;
    if (low == 0) return (status >> 8) & 0xff;
    return -(int64_t)low;
}

/* The number of threads of this process, from /proc/self/status; -1 if it cannot be read. */
static int thread_count(void) {
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY_ | O_CLOEXEC_);
    if (fd < 0) return -1;
    size_t got = 0;
    for (;;) {
        ssize_t_ k = read(fd, buf + got, sizeof buf - 1 - got);
        if (k < 0 && errno_ == EINTR_) continue;
        if (k <= 0) break;
        got += (size_t)k;
        if (got == sizeof buf - 1) break;
    }
    close(fd);
    buf[got] = 0;
    const char *key = "\nThreads:";
    for (size_t i = 0; i + 9 <= got; i++) {
        size_t j = 0;
        while (j < 9 && buf[i + j] == key[j]) j++;
        if (j < 9) continue;
        size_t p = i + 9;
        while (p < got && (buf[p] == ' ' || buf[p] == '\t')) p++;
        int n = 0, digits = 0;
        while (p < got && buf[p] >= '0' && buf[p] <= '9') { n = n * 10 + (buf[p] - '0'); p++; digits++; }
        return digits ? n : -1;
    }
    return -1;
}

static void unsafe_exit(int threads) {
    char line[160];
    const char *head = "{\"error\": \"zygote_unsafe\", \"detail\": \"";
    const char *tail = " threads before a fork (one is required)\"}\n";
    size_t n = 0;
    for (size_t i = 0; head[i]; i++) line[n++] = head[i];
    if (threads < 0) { const char *u = "an unknown number of"; for (size_t i = 0; u[i]; i++) line[n++] = u[i]; }
    else {
        char digits[12]; int d = 0; unsigned v = (unsigned)threads;
        do { digits[d++] = (char)('0' + v % 10); v /= 10; } while (v);
        while (d) line[n++] = digits[--d];
    }
    for (size_t i = 0; tail[i]; i++) line[n++] = tail[i];
    write_all(2, line, n);
    kill_all_children();
    _exit(EXIT_UNSAFE);
}

/* ---- the child's seccomp filter ---- */

#define MAX_FILTER 160
struct filter { struct sock_filter_ ins[MAX_FILTER]; unsigned n; };

static void emit(struct filter *f, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k) {
    if (f->n < MAX_FILTER) { f->ins[f->n].code = code; f->ins[f->n].jt = jt; f->ins[f->n].jf = jf; f->ins[f->n].k = k; }
    f->n++;
}
#define OFF_NR 0u
#define OFF_ARCH 4u
#define OFF_ARG0_LO 16u  /* args[0], low 32 bits (little-endian) */

/* nr == number: return `action` (accumulator holds nr) */
static void deny(struct filter *f, uint32_t number, uint32_t action) {
    emit(f, BPF_JEQ_K_, 0, 1, number);
    emit(f, BPF_RET_K_, 0, 0, action);
}
/* nr == number: allowed only when the low 32 bits of args[0] equal `own` */
static void own_pid_only(struct filter *f, uint32_t number, uint32_t own) {
    emit(f, BPF_JEQ_K_, 0, 4, number);
    emit(f, BPF_LD_W_ABS_, 0, 0, OFF_ARG0_LO);
    emit(f, BPF_JEQ_K_, 0, 1, own);
    emit(f, BPF_RET_K_, 0, 0, SECCOMP_RET_ALLOW_);
    emit(f, BPF_RET_K_, 0, 0, SECCOMP_RET_ERRNO_ | EPERM_);
}
/* nr == clone: allowed only with CLONE_THREAD in args[0] (a thread, not a process) */
static void clone_threads_only(struct filter *f, uint32_t number) {
    emit(f, BPF_JEQ_K_, 0, 4, number);
    emit(f, BPF_LD_W_ABS_, 0, 0, OFF_ARG0_LO);
    emit(f, BPF_JSET_K_, 0, 1, CLONE_THREAD_);
    emit(f, BPF_RET_K_, 0, 0, SECCOMP_RET_ALLOW_);
    emit(f, BPF_RET_K_, 0, 0, SECCOMP_RET_ERRNO_ | EPERM_);
}

struct numbers {
    uint32_t ptrace, vm_readv, vm_writev, socket, socketpair, connect, execve, execveat;
    uint32_t clone3, clone, kill, tkill, tgkill, sigqueueinfo, tgsigqueueinfo;
    uint32_t pidfd_open, pidfd_send_signal, fork, vfork; /* fork, vfork: 0 when the arch has none */
};
static const struct numbers X86_64 = { 101, 310, 311, 41, 53, 42, 59, 322,
                                       435, 56, 62, 200, 234, 129, 297, 434, 424, 57, 58 };
static const struct numbers AARCH64 = { 117, 270, 271, 198, 199, 203, 221, 281,
                                        435, 220, 129, 130, 131, 138, 240, 434, 424, 0, 0 };

static void arch_rules(struct filter *f, const struct numbers *s, uint32_t own, int x86) {
    const uint32_t eperm = SECCOMP_RET_ERRNO_ | EPERM_;
    emit(f, BPF_LD_W_ABS_, 0, 0, OFF_NR);
    if (x86) { /* x32 numbers: refused */
        emit(f, BPF_JGE_K_, 0, 1, X32_SYSCALL_BIT_);
        emit(f, BPF_RET_K_, 0, 0, eperm);
    }
    const uint32_t denied[] = { s->ptrace, s->vm_readv, s->vm_writev, s->socket, s->socketpair,
                                s->connect, s->execve, s->execveat, s->pidfd_open,
                                s->pidfd_send_signal, s->fork, s->vfork };
    for (unsigned i = 0; i < sizeof denied / sizeof denied[0]; i++)
        if (denied[i] != 0) deny(f, denied[i], eperm);
    deny(f, s->clone3, SECCOMP_RET_ERRNO_ | ENOSYS_);
    /* the own-pid and clone blocks reload the accumulator, so they come last, each ending in
       a return on both paths */
    own_pid_only(f, s->kill, own);
    /* after a block whose syscall did not match, the accumulator still holds nr (the load is
       inside the block, after the match) */
    own_pid_only(f, s->tkill, own);
    own_pid_only(f, s->tgkill, own);
    own_pid_only(f, s->sigqueueinfo, own);
    own_pid_only(f, s->tgsigqueueinfo, own);
    clone_threads_only(f, s->clone);
    emit(f, BPF_RET_K_, 0, 0, SECCOMP_RET_ALLOW_);
}

/* The whole program: arch check, then each arch's rules. Returns 0, or -1 if it does not fit. */
static int build_filter(struct filter *f, uint32_t own) {
    f->n = 0;
    emit(f, BPF_LD_W_ABS_, 0, 0, OFF_ARCH);
    unsigned jeq_x86 = f->n; emit(f, BPF_JEQ_K_, 0, 0, AUDIT_ARCH_X86_64_);
    unsigned jeq_arm = f->n; emit(f, BPF_JEQ_K_, 0, 0, AUDIT_ARCH_AARCH64_);
    emit(f, BPF_RET_K_, 0, 0, SECCOMP_RET_KILL_PROCESS_);
    unsigned x86_start = f->n; arch_rules(f, &X86_64, own, 1);
    unsigned arm_start = f->n; arch_rules(f, &AARCH64, own, 0);
    if (f->n > MAX_FILTER) return -1;
    if (x86_start - jeq_x86 - 1 > 255 || arm_start - jeq_arm - 1 > 255) return -1;
    f->ins[jeq_x86].jt = (uint8_t)(x86_start - jeq_x86 - 1);
    f->ins[jeq_arm].jt = (uint8_t)(arm_start - jeq_arm - 1);
    return 0;
}

/* ---- the child ---- */

static void child_fail(const char *what) {
    write_all(2, "proofgate zygote child: ", 24);
    write_all(2, what, cstrlen(what));
    write_all(2, "\n", 1);
    _exit(127);
}

/* In the forked child: confinement, then the task manager. Returns only when all is in place. */
static void confine(int fds[3], pid_t_ zygote, unsigned threads) {
    int moved[3];
    for (int i = 0; i < 3; i++) {  /* above 0-5 first, so no dup2 below overwrites another */
        moved[i] = fcntl(fds[i], F_DUPFD_, 10);
        if (moved[i] < 0) child_fail("cannot move its descriptors");
    }
    int null = open("/dev/null", O_RDWR_);
    for (int std = 0; std < 3; std++) {
        if (null >= 0) { if (null != std && dup2(null, std) < 0) child_fail("cannot set up 0-2"); }
        else close(std);
    }
    for (int i = 0; i < 3; i++)
        if (dup2(moved[i], 3 + i) < 0) child_fail("cannot place its descriptors");
    if (syscall(NR_CLOSE_RANGE_, 6u, ~0u, 0u) != 0) {
        for (int fd = 6; fd < 65536; fd++) close(fd);  /* before kernel 5.9 */
    }
    if (prctl(PR_SET_PDEATHSIG_, SIGKILL_, 0, 0, 0) != 0) child_fail("PR_SET_PDEATHSIG failed");
    if (getppid() != zygote) _exit(127);  /* the zygote died before the line above */
    if (prctl(PR_SET_NO_NEW_PRIVS_, 1, 0, 0, 0) != 0) child_fail("PR_SET_NO_NEW_PRIVS failed");
    static struct filter f;
    if (build_filter(&f, (uint32_t)getpid()) != 0) child_fail("the seccomp filter does not fit");
    struct sock_fprog_ prog = { (unsigned short)f.n, f.ins };
    if (prctl(PR_SET_SECCOMP_, SECCOMP_MODE_FILTER_, &prog, 0, 0) != 0)
        child_fail("installing the seccomp filter failed");
    if (threads == 0) lean_init_task_manager();
    else lean_init_task_manager_using(threads);
}

/* ---- the zygote's loop ---- */

static void close_fds(int *fds, int n) { for (int i = 0; i < n; i++) close(fds[i]); }

static void reap(void) {
    for (int i = 0; i < g_count;) {
        int status = 0;
        pid_t_ r = waitpid(g_children[i].pid, &status, WNOHANG_);
        if (r == 0 || (r < 0 && errno_ == EINTR_)) { i++; continue; }
        /* r < 0 (ECHILD: not ours any more) is reported as a kill, which it must have been */
        int64_t code = r > 0 ? exit_code(status) : -(int64_t)SIGKILL_;
        if (g_children[i].pidfd >= 0) close(g_children[i].pidfd);
        uint64_t id = g_children[i].id;
        g_children[i] = g_children[--g_count];
        answer(id, KIND_EXITED, code);
    }
}

static int g_zygote_pid = 0;

/* One command. Returns in a child (with *child_id set) or after handling it in the zygote. */
static int command(unsigned threads, uint64_t *child_id) {
    unsigned char data[16];
    union { struct cmsghdr_ h; unsigned char bytes[64]; } control;
    struct iovec_ iov = { data, sizeof data };
    struct msghdr_ h = { 0, 0, &iov, 1, control.bytes, sizeof control.bytes, 0 };
    ssize_t_ got = recvmsg(CHANNEL_FD, &h, MSG_CMSG_CLOEXEC_);
    if (got < 0 && errno_ == EINTR_) return 0;
    if (got <= 0) { kill_all_children(); _exit(0); }  /* the service is gone */
    int fds[8]; int nfds = 0;
    if (h.msg_controllen >= sizeof(struct cmsghdr_)) {
        struct cmsghdr_ *c = &control.h;
        if (c->cmsg_level == SOL_SOCKET_ && c->cmsg_type == SCM_RIGHTS_ &&
            c->cmsg_len >= sizeof(struct cmsghdr_) && c->cmsg_len <= h.msg_controllen) {
            size_t count = (c->cmsg_len - sizeof(struct cmsghdr_)) / sizeof(int);
            const unsigned char *p = control.bytes + sizeof(struct cmsghdr_);
            for (size_t i = 0; i < count && nfds < 8; i++) {
                int fd; unsigned char *q = (unsigned char *)&fd;
                for (size_t b = 0; b < sizeof fd; b++) q[b] = p[i * sizeof fd + b];
                fds[nfds++] = fd;
            }
        }
    }
    if (got != 16) { close_fds(fds, nfds); return 0; }  /* not a command: ignored */
    uint64_t id = get_u64(data);
    uint32_t op = get_u32(data + 8);
    if (op == OP_KILL) {
        close_fds(fds, nfds);
        for (int i = 0; i < g_count; i++)
            if (g_children[i].id == id) kill(g_children[i].pid, SIGKILL_);
        return 0;
    }
    if (op != OP_FORK || nfds != 3 || (h.msg_flags & MSG_CTRUNC_)) {
        close_fds(fds, nfds);
        if (op == OP_FORK) answer(id, KIND_STARTED, -EINVAL_);
        return 0;
    }
    if (g_count >= MAX_CHILDREN) { close_fds(fds, nfds); answer(id, KIND_STARTED, -EAGAIN_); return 0; }
    int threads_now = thread_count();
    if (threads_now != 1) { close_fds(fds, nfds); unsafe_exit(threads_now); }
    pid_t_ pid = fork();
    if (pid == 0) {
        confine(fds, g_zygote_pid, threads);
        *child_id = id;
        return 1;
    }
    int err = errno_;
    close_fds(fds, nfds);
    if (pid < 0) { answer(id, KIND_STARTED, -(int64_t)err); return 0; }
    int pidfd = (int)syscall(NR_PIDFD_OPEN_, pid, 0u);
    g_children[g_count].id = id;
    g_children[g_count].pid = pid;
    g_children[g_count].pidfd = pidfd;  /* -1 before kernel 5.3: polled every 100 ms instead */
    g_count++;
    answer(id, KIND_STARTED, pid);
    return 0;
}

static uint64_t serve_loop(unsigned threads) {
    g_zygote_pid = getpid();
    struct pollfd_ polls[MAX_CHILDREN + 1];
    for (;;) {
        int n = 0, blind = 0;
        polls[n].fd = CHANNEL_FD; polls[n].events = POLLIN_; polls[n].revents = 0; n++;
        for (int i = 0; i < g_count; i++) {
            if (g_children[i].pidfd < 0) { blind = 1; continue; }
            polls[n].fd = g_children[i].pidfd; polls[n].events = POLLIN_; polls[n].revents = 0; n++;
        }
        int ready = poll(polls, (unsigned long)n, blind ? 100 : -1);
        if (ready < 0 && errno_ != EINTR_) { kill_all_children(); _exit(1); }
        reap();
        if (ready > 0 && polls[0].revents) {
            uint64_t id = 0;
            if (command(threads, &id)) return id;
        }
    }
}

/* ---- the Lean API (Proofgate/Zygote.lean) ---- */

static lean_obj_res io_errno(int err) {
    return lean_io_result_mk_error(lean_decode_io_error(err, (lean_object *)0));  /* no file name */
}
static lean_obj_res io_user_error(const char *msg) {
    return lean_io_result_mk_error(lean_mk_io_user_error(lean_mk_string(msg)));
}

/* Proofgate.Zygote.threads : IO UInt32 */
LEAN_EXPORT lean_obj_res proofgate_zygote_threads(lean_obj_arg w) {
    (void)w;
    int n = thread_count();
    if (n < 0) return io_user_error("cannot read /proc/self/status");
    return lean_io_result_mk_ok(lean_box_uint32((uint32_t)n));
}

/* Proofgate.Zygote.prepare : IO UInt32 */
LEAN_EXPORT lean_obj_res proofgate_zygote_prepare(lean_obj_arg w) {
    (void)w;
    lean_finalize_task_manager();
    if (finalize_libuv) finalize_libuv();
    if (prctl(PR_SET_DUMPABLE_, 0, 0, 0, 0) != 0) return io_errno(errno_);
    int n = thread_count();
    if (n < 0) return io_user_error("cannot read /proc/self/status");
    return lean_io_result_mk_ok(lean_box_uint32((uint32_t)n));
}

/* Proofgate.Zygote.serve (threads : UInt32) : IO UInt64 */
LEAN_EXPORT lean_obj_res proofgate_zygote_serve(uint32_t threads, lean_obj_arg w) {
    (void)w;
    uint64_t id = serve_loop(threads);
    return lean_io_result_mk_ok(lean_box_uint64(id));
}

/* Proofgate.Zygote.readRequest (max : UInt32) : IO ByteArray */
LEAN_EXPORT lean_obj_res proofgate_zygote_read_request(uint32_t max, lean_obj_arg w) {
    (void)w;
    size_t cap = (size_t)max + 1;
    lean_object *arr = lean_alloc_sarray(1, 0, cap);
    uint8_t *p = lean_sarray_cptr(arr);
    size_t got = 0;
    while (got < cap) {
        ssize_t_ k = read(3, p + got, cap - got);
        if (k < 0) {
            if (errno_ == EINTR_) continue;
            int err = errno_;
            lean_dec(arr);
            return io_errno(err);
        }
        if (k == 0) break;
        got += (size_t)k;
    }
    lean_sarray_set_size(arr, got);
    return lean_io_result_mk_ok(arr);
}

/* Proofgate.Zygote.writeFd (fd : UInt32) (bytes : @& ByteArray) : IO Unit */
LEAN_EXPORT lean_obj_res proofgate_zygote_write(uint32_t fd, b_lean_obj_arg bytes, lean_obj_arg w) {
    (void)w;
    const uint8_t *p = lean_sarray_cptr(bytes);
    size_t n = lean_sarray_size(bytes);
    while (n > 0) {
        ssize_t_ k = write((int)fd, p, n);
        if (k < 0) {
            if (errno_ == EINTR_) continue;
            return io_errno(errno_);
        }
        p += k; n -= (size_t)k;
    }
    return lean_io_result_mk_ok(lean_box(0));
}

/* Proofgate.Zygote.exit (code : UInt8) : IO Unit */
LEAN_EXPORT lean_obj_res proofgate_zygote_exit(uint8_t code, lean_obj_arg w) {
    (void)w;
    _exit(code);
}
