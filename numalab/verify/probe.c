/*
 * numalab verify: the policy probe that runs as part of the guest's /init.
 *
 * Compiled at verify time with `gcc -static -O1` (no libnuma: raw system calls only) and run
 * once inside a QEMU guest that has cgroup v2 mounted on /sys/fs/cgroup. It reads the guest's
 * own node states, then prints one JSON record per experiment on stdout (the serial console),
 * each on a line of its own starting with "@@REC ". Two kinds of record:
 *
 *   validate  one (api, cgroup, mode, flags, nodemask case): a fresh child pinned to CPU 0
 *             calls set_mempolicy, or mbind on a fresh 16-page private anonymous mapping
 *             ("mbind") or shared anonymous (shmem) mapping ("mbind_shm"), then
 *             reports the return code, get_mempolicy (task policy; for mbind also the VMA's),
 *             MPOL_F_MEMS_ALLOWED and the node of every page it touched (move_pages with a NULL
 *             node list, which only queries).
 *   rebind    one (transition, mode, flags, user mask, scope): a fresh child pinned to CPU 0
 *             inside a child cpuset sets a task policy (scope "task") or mbinds one mapping
 *             (scope "vma", each phase touching its next chunk), touches pages, then writes each further
 *             cpuset.mems value itself; per phase: cpuset.mems.effective, mems_allowed,
 *             get_mempolicy, the nodes of the pages first touched in that phase and where the
 *             pages of every earlier phase are now (cgroup v2 migrates them).
 *
 * The record fields are those of tests/data/kernel-truth/mempolicy-*.json, so one comparison
 * reads both. Nothing here interprets the results: numalab.verify compares them with its model.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXNODE_BITS 1025          /* maxnode passed with every non-NULL mask: bit 1023 usable */
#define MASK_LONGS ((MAXNODE_BITS + 63) / 64 + 1)
#define MAXN 1024
#define F_STATIC (1 << 15)
#define F_RELATIVE (1 << 14)
#define F_BALANCING (1 << 13)
#define MPOL_F_NODE (1 << 0)
#define MPOL_F_ADDR (1 << 1)
#define MPOL_F_MEMS_ALLOWED (1 << 2)
#define VALIDATE_PAGES 16
#define REBIND_PAGES 32
#define CG "/sys/fs/cgroup/numalab"

static const char *MODE_NAME[] = {"DEFAULT", "PREFERRED", "BIND", "INTERLEAVE", "LOCAL",
                                  "PREFERRED_MANY", "WEIGHTED_INTERLEAVE"};
static const int FLAG_SETS[] = {0, F_STATIC, F_RELATIVE, F_STATIC | F_RELATIVE, F_BALANCING};
static long page_size;

/* ---- node sets as sorted int arrays ---- */
typedef struct { int n; int id[MAXN]; } nodes_t;

static int read_list(const char *path, nodes_t *out)
{
    char buf[8192];
    out->n = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r < 0) return -1;
    buf[r] = 0;
    char *p = buf;
    while (*p && *p != '\n') {
        char *e;
        long a = strtol(p, &e, 10), b = a;
        if (e == p) break;
        if (*e == '-') { p = e + 1; b = strtol(p, &e, 10); }
        for (long i = a; i <= b && out->n < MAXN; i++) out->id[out->n++] = (int)i;
        p = (*e == ',') ? e + 1 : e;
    }
    return 0;
}

static void to_mask(const nodes_t *s, unsigned long *mask)
{
    memset(mask, 0, MASK_LONGS * sizeof(long));
    for (int i = 0; i < s->n; i++) mask[s->id[i] / 64] |= 1UL << (s->id[i] % 64);
}

static void fmt_list(const nodes_t *s, char *out)   /* kernel list syntax: "0-1,3" */
{
    char *o = out;
    *o = 0;
    for (int i = 0; i < s->n;) {
        int j = i;
        while (j + 1 < s->n && s->id[j + 1] == s->id[j] + 1) j++;
        o += sprintf(o, "%s%d", o == out ? "" : ",", s->id[i]);
        if (j > i) o += sprintf(o, "-%d", s->id[j]);
        i = j + 1;
    }
}

/* ---- a JSON line, built in a buffer and written with one write() ---- */
typedef struct { char *b; size_t n, cap; } out_t;

static void put(out_t *o, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(o->b + o->n, o->cap - o->n, fmt, ap);
        va_end(ap);
        if (k >= 0 && (size_t)k < o->cap - o->n) { o->n += k; return; }
        o->cap = o->cap * 2 + (k > 0 ? k : 0) + 64;
        o->b = realloc(o->b, o->cap);
    }
}

static void put_ids(out_t *o, const int *ids, int n)
{
    put(o, "[");
    for (int i = 0; i < n; i++) put(o, i ? ",%d" : "%d", ids[i]);
    put(o, "]");
}

static void put_mask(out_t *o, const unsigned long *mask, int bits)
{
    int first = 1;
    put(o, "[");
    for (int i = 0; i < bits; i++)
        if (mask[i / 64] >> (i % 64) & 1) { put(o, first ? "%d" : ",%d", i); first = 0; }
    put(o, "]");
}

static void put_flags(out_t *o, int f)
{
    put(o, "[");
    const char *sep = "";
    if (f & F_STATIC) { put(o, "\"STATIC_NODES\""); sep = ","; }
    if (f & F_RELATIVE) { put(o, "%s\"RELATIVE_NODES\"", sep); sep = ","; }
    if (f & F_BALANCING) put(o, "%s\"NUMA_BALANCING\"", sep);
    put(o, "]");
}

static void put_ret(out_t *o, const char *key, long r, int err)
{
    put(o, "\"%s\":\"%s\"", key, r < 0 ? strerrorname_np(err) : "OK");
}

static void emit(out_t *o)
{
    put(o, "\n");
    size_t off = 0;
    while (off < o->n) {
        ssize_t w = write(1, o->b + off, o->n - off);
        if (w <= 0) break;
        off += w;
    }
    o->n = 0;
}

/* ---- system calls ---- */
static long set_mempolicy_(int mode, const unsigned long *mask, unsigned long maxnode)
{ return syscall(SYS_set_mempolicy, mode, mask, maxnode); }
static long mbind_(void *a, unsigned long len, int mode, const unsigned long *mask, unsigned long maxnode)
{ return syscall(SYS_mbind, a, len, mode, mask, maxnode, 0); }
static long get_mempolicy_(int *mode, unsigned long *mask, unsigned long maxnode, void *addr, unsigned long fl)
{ return syscall(SYS_get_mempolicy, mode, mask, maxnode, addr, fl); }
static long move_pages_(unsigned long count, void **pages, int *status)
{ return syscall(SYS_move_pages, 0, count, pages, NULL, status, 0); }

static void put_policy(out_t *o, const char *key, void *addr, unsigned long fl)
{
    int mode = -1;
    unsigned long mask[MASK_LONGS] = {0};
    long r = get_mempolicy_(&mode, mask, MAXNODE_BITS, addr, fl);
    int e = errno;
    put(o, ",\"%s\":{", key);
    put_ret(o, "ret", r, e);
    if (r == 0) {
        int m = mode & ~(F_STATIC | F_RELATIVE | F_BALANCING);
        put(o, ",\"raw\":%d,\"mode\":", mode);
        if (m >= 0 && m <= 6) put(o, "\"%s\"", MODE_NAME[m]); else put(o, "\"MODE_%d\"", m);
        put(o, ",\"flags\":");
        put_flags(o, mode);
        put(o, ",\"nodemask\":");
        put_mask(o, mask, MAXNODE_BITS - 1);
    }
    put(o, "}");
}

static void put_mems_allowed(out_t *o)
{
    unsigned long mask[MASK_LONGS] = {0};
    long r = get_mempolicy_(NULL, mask, MAXNODE_BITS, NULL, MPOL_F_MEMS_ALLOWED);
    put(o, ",\"mems_allowed\":");
    if (r == 0) put_mask(o, mask, MAXNODE_BITS - 1); else put(o, "\"%s\"", strerrorname_np(errno));
}

/* Touch `n` pages at `a` (one write each) and put the node of each page (move_pages query). */
static void put_pages(out_t *o, const char *key, char *a, int n, int touch)
{
    void *pages[256];
    int status[256];
    for (int i = 0; i < n; i++) {
        if (touch) a[i * page_size] = 1;
        pages[i] = a + i * page_size;
    }
    long r = move_pages_(n, pages, status);
    int e = errno;
    put(o, ",\"%s_ret\":", key);
    put(o, "\"%s\"", r < 0 ? strerrorname_np(e) : "OK");
    put(o, ",\"%s\":", key);
    if (r < 0) memset(status, 0xff, sizeof status);
    put_ids(o, status, n);
}

static int cpu_node_of_cpu0(void)
{
    unsigned cpu = 0, node = 0;
    if (syscall(SYS_getcpu, &cpu, &node, NULL) != 0) return -1;
    return (int)node;
}

static void pin_cpu0(void)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(0, &s);
    sched_setaffinity(0, sizeof s, &s);
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0) return -errno;
    ssize_t w = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    return w < 0 ? -e : 0;
}

static void read_text(const char *path, char *out, size_t cap)
{
    out[0] = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) { snprintf(out, cap, "-"); return; }
    ssize_t r = read(fd, out, cap - 1);
    close(fd);
    out[r > 0 ? r : 0] = 0;
    char *nl = strchr(out, '\n');
    if (nl) *nl = 0;
}

/* ---- the guest's node states ---- */
static nodes_t online, memory;
static int nr_node_ids;

static void mkset(nodes_t *s, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    s->n = 0;
    for (int i = 0; i < n; i++) {
        int v = va_arg(ap, int);
        int dup = 0;
        for (int k = 0; k < s->n; k++) dup |= s->id[k] == v;
        if (!dup) s->id[s->n++] = v;
    }
    va_end(ap);
    for (int i = 1; i < s->n; i++)            /* insertion sort */
        for (int j = i; j > 0 && s->id[j - 1] > s->id[j]; j--) {
            int t = s->id[j]; s->id[j] = s->id[j - 1]; s->id[j - 1] = t;
        }
}

static int in_set(const nodes_t *s, int v)
{
    for (int i = 0; i < s->n; i++) if (s->id[i] == v) return 1;
    return 0;
}

/* ---- validate: one fresh child per record ---- */
typedef struct { const char *name; int null_ptr; nodes_t set; } mcase_t;

static void validate_one(const char *api, const char *cgroup, const char *cg_mems, int mode, int flags,
                         const mcase_t *mc)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid != 0) { int st; waitpid(pid, &st, 0); return; }
    out_t o = {malloc(4096), 0, 4096};
    if (strcmp(cgroup, "ROOT") != 0) write_file(CG "/v/cgroup.procs", "0");
    pin_cpu0();
    char lst[8192];
    put(&o, "@@REC {\"kind\":\"validate\",\"api\":\"%s\",\"cgroup\":\"%s\",\"cpuset_mems\":\"%s\"", api, cgroup, cg_mems);
    put(&o, ",\"mode\":\"%s\",\"mode_value\":%d,\"flags\":", MODE_NAME[mode], mode);
    put_flags(&o, flags);
    put(&o, ",\"flags_value\":%d,\"mask_case\":\"%s\",\"nodemask_in\":", flags, mc->name);
    if (mc->null_ptr) put(&o, "null"); else put_ids(&o, mc->set.id, mc->set.n);
    unsigned long mask[MASK_LONGS];
    to_mask(&mc->set, mask);
    unsigned long maxnode = mc->null_ptr ? 0 : MAXNODE_BITS;
    const unsigned long *mp = mc->null_ptr ? NULL : mask;
    size_t len = VALIDATE_PAGES * page_size;
    int shm = !strcmp(api, "mbind_shm");
    char *a = mmap(NULL, len, PROT_READ | PROT_WRITE, (shm ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
    long r;
    int e;
    if (api[0] == 's') r = set_mempolicy_(mode | flags, mp, maxnode);
    else r = mbind_(a, len, mode | flags, mp, maxnode);
    e = errno;
    put(&o, ",");
    put_ret(&o, "ret", r, e);
    put_policy(&o, "get_task", NULL, 0);
    if (api[0] == 'm') put_policy(&o, "get_vma", a, MPOL_F_ADDR);
    put_mems_allowed(&o);
    put_pages(&o, "placement", a, VALIDATE_PAGES, 1);
    read_text("/proc/self/cpuset", lst, sizeof lst);
    put(&o, ",\"cpu\":%d,\"cpu_node\":%d}", sched_getcpu(), cpu_node_of_cpu0());
    emit(&o);
    _exit(0);
}

static void validate_all(void)
{
    int cpu_node = cpu_node_of_cpu0();
    /* the child cpuset: the memory nodes after the first (all of them when only one) */
    nodes_t sub = {0};
    for (int i = (memory.n > 1 ? 1 : 0); i < memory.n; i++) sub.id[sub.n++] = memory.id[i];
    char sub_txt[8192];
    fmt_list(&sub, sub_txt);
    write_file(CG "/v/cpuset.mems", sub_txt);
    const char *cgroups[2] = {"ROOT", "v"};
    for (int c = 0; c < 2; c++) {
        const nodes_t *allowed = c ? &sub : &memory;
        int outside = -1;                 /* a node that exists but is not allowed */
        for (int i = 0; i < online.n && outside < 0; i++)
            if (!in_set(allowed, online.id[i])) outside = online.id[i];
        mcase_t cases[16];
        int nc = 0;
        cases[nc++] = (mcase_t){"null_ptr", 1, {0}};
        cases[nc++] = (mcase_t){"empty", 0, {0}};
        cases[nc] = (mcase_t){"inside_single", 0, {0}};
        mkset(&cases[nc++].set, 1, allowed->id[allowed->n - 1]);
        cases[nc] = (mcase_t){"inside_all", 0, *allowed};
        nc++;
        if (outside >= 0) {
            cases[nc] = (mcase_t){"partly_outside", 0, *allowed};
            if (cases[nc].set.n < MAXN) { cases[nc].set.id[cases[nc].set.n++] = outside; }
            nodes_t t = cases[nc].set;
            cases[nc].set.n = 0;
            for (int v = 0; v < MAXN; v++) if (in_set(&t, v)) cases[nc].set.id[cases[nc].set.n++] = v;
            nc++;
            cases[nc] = (mcase_t){"outside_single", 0, {0}};
            mkset(&cases[nc++].set, 1, outside);
        }
        cases[nc++] = (mcase_t){"all_online", 0, online};
        cases[nc] = (mcase_t){"beyond_online_only", 0, {0}};
        mkset(&cases[nc++].set, 1, online.id[online.n - 1] + 1);
        cases[nc] = (mcase_t){"bit_1023_only", 0, {0}};
        mkset(&cases[nc++].set, 1, 1023);
        (void)cpu_node;
        static const char *apis[] = {"set", "mbind", "mbind_shm"};
        for (int api = 0; api < 3; api++)
            for (int mode = 0; mode <= 6; mode++)
                for (unsigned f = 0; f < sizeof FLAG_SETS / sizeof FLAG_SETS[0]; f++)
                    for (int k = 0; k < nc; k++) {
                        /* shared memory (shmem, MAP_SHARED|MAP_ANONYMOUS): no flags beyond the plain
                         * ones and the masks that are accepted, to keep the run short */
                        if (api == 2 && (FLAG_SETS[f] & ~F_STATIC)) continue;
                        validate_one(apis[api], cgroups[c], c ? sub_txt : "-", mode, FLAG_SETS[f], &cases[k]);
                    }
    }
}

/* ---- rebind: cpuset.mems walks a sequence, the task's policy follows ---- */
static void rebind_one(const char *transition, nodes_t *seq, int nseq, int mode, int flags, const nodes_t *user,
                       int vma)
{
    char txt[8192];
    fmt_list(&seq[0], txt);
    int wr = write_file(CG "/r/cpuset.mems", txt);
    if (wr) {    /* e.g. the previous record left a mems the first value cannot replace */
        write_file(CG "/r/cpuset.mems", "0-1023");
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid != 0) { int st; waitpid(pid, &st, 0); return; }
    out_t o = {malloc(16384), 0, 16384};
    int mv = write_file(CG "/r/cgroup.procs", "0");
    pin_cpu0();
    put(&o, "@@REC {\"kind\":\"rebind\",\"scope\":\"%s\",\"transition\":\"%s\",\"mems_sequence\":[",
        vma ? "vma" : "task", transition);
    for (int i = 0; i < nseq; i++) { fmt_list(&seq[i], txt); put(&o, i ? ",\"%s\"" : "\"%s\"", txt); }
    put(&o, "],\"mode\":\"%s\",\"flags\":", MODE_NAME[mode]);
    put_flags(&o, flags);
    put(&o, ",\"nodemask_in\":");
    put_ids(&o, user->id, user->n);
    put(&o, ",\"cg_move_ret\":\"%s\"", mv ? strerrorname_np(-mv) : "OK");
    unsigned long mask[MASK_LONGS];
    to_mask(user, mask);
    /* vma: one mapping for every phase, mbind'ed once; phase i touches its i-th chunk */
    char *region = vma ? mmap(NULL, (size_t)nseq * REBIND_PAGES * page_size, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : NULL;
    long r = vma ? mbind_(region, (size_t)nseq * REBIND_PAGES * page_size, mode | flags, user->n ? mask : NULL,
                          user->n ? MAXNODE_BITS : 0)
                 : set_mempolicy_(mode | flags, user->n ? mask : NULL, user->n ? MAXNODE_BITS : 0);
    int e = errno;
    put(&o, ",");
    put_ret(&o, "set_ret", r, e);
    put(&o, ",\"writer\":\"self\",\"pages_per_phase\":%d,\"phases\":[", REBIND_PAGES);
    char *maps[16];
    for (int ph = 0; ph < nseq; ph++) {
        int w = 0;
        fmt_list(&seq[ph], txt);
        if (ph) w = write_file(CG "/r/cpuset.mems", txt);
        put(&o, "%s{\"phase\":%d,\"cpuset_mems\":\"%s\",\"write_ret\":\"%s\"", ph ? "," : "", ph, txt,
            w ? strerrorname_np(-w) : "OK");
        read_text(CG "/r/cpuset.mems.effective", txt, sizeof txt);
        put(&o, ",\"mems_effective\":\"%s\"", txt);
        put_mems_allowed(&o);
        if (vma) put_policy(&o, "policy", region, MPOL_F_ADDR); else put_policy(&o, "policy", NULL, 0);
        put(&o, ",\"old_pages\":[");
        for (int k = 0; k < ph; k++) {
            void *pages[REBIND_PAGES];
            int status[REBIND_PAGES];
            for (int i = 0; i < REBIND_PAGES; i++) pages[i] = maps[k] + i * page_size;
            if (move_pages_(REBIND_PAGES, pages, status) < 0) memset(status, 0xff, sizeof status);
            if (k) put(&o, ",");
            put_ids(&o, status, REBIND_PAGES);
        }
        put(&o, "]");
        maps[ph] = vma ? region + (size_t)ph * REBIND_PAGES * page_size
                       : mmap(NULL, REBIND_PAGES * page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        put_pages(&o, "new_pages", maps[ph], REBIND_PAGES, 1);
        put(&o, ",\"cpu\":%d,\"cpu_node\":%d}", sched_getcpu(), cpu_node_of_cpu0());
    }
    put(&o, "]}");
    emit(&o);
    _exit(0);
}

static void rebind_all(void)
{
    if (memory.n < 2) return;
    int m = memory.n, h = (m + 1) / 2;
    nodes_t all = memory, lo = {0}, hi = {0}, first = {0}, last = {0}, pair = {0};
    for (int i = 0; i < m; i++) { if (i < h) lo.id[lo.n++] = memory.id[i]; else hi.id[hi.n++] = memory.id[i]; }
    mkset(&first, 1, memory.id[0]);
    mkset(&last, 1, memory.id[m - 1]);
    mkset(&pair, 2, memory.id[m > 2 ? 1 : 0], memory.id[m - 1]);
    struct { const char *name; int n; nodes_t s[3]; } tr[] = {
        {"shrink", 2, {all, lo}},
        {"grow", 2, {lo, all}},
        {"shift", 2, {lo, hi}},
        {"disjoint_single", 2, {first, last}},
        {"back_and_forth", 3, {all, last, all}},
    };
    const nodes_t *users[3] = {&first, &pair, &all};
    static const int modes[] = {0, 1, 2, 3, 4, 5, 6};
    static const int flags[] = {0, F_STATIC, F_RELATIVE};
    for (unsigned t = 0; t < sizeof tr / sizeof tr[0]; t++)
        for (unsigned mi = 0; mi < sizeof modes / sizeof modes[0]; mi++)
            for (unsigned fi = 0; fi < sizeof flags / sizeof flags[0]; fi++)
                for (int u = 0; u < 3; u++)
                    for (int vma = 0; vma < 2; vma++) {
                        int mode = modes[mi];
                        if ((mode == 0 || mode == 4) && (u || fi)) continue; /* no mask, no flags */
                        rebind_one(tr[t].name, tr[t].s, tr[t].n, mode, flags[fi],
                                   (mode == 0 || mode == 4) ? &(nodes_t){0} : users[u], vma);
                    }
}

int main(int argc, char **argv)
{
    page_size = sysconf(_SC_PAGESIZE);
    setvbuf(stdout, NULL, _IOLBF, 0);
    read_list("/sys/devices/system/node/online", &online);
    read_list("/sys/devices/system/node/has_memory", &memory);
    nodes_t possible;
    read_list("/sys/devices/system/node/possible", &possible);
    nr_node_ids = possible.n ? possible.id[possible.n - 1] + 1 : 1;
    write_file("/proc/sys/kernel/numa_balancing", "0");
    write_file("/sys/fs/cgroup/cgroup.subtree_control", "+cpuset");
    mkdir(CG, 0755);
    write_file(CG "/cgroup.subtree_control", "+cpuset");
    char all[8192];
    fmt_list(&memory, all);
    write_file(CG "/cpuset.cpus", "0");
    write_file(CG "/cpuset.mems", all);
    mkdir(CG "/v", 0755);
    write_file(CG "/v/cpuset.cpus", "0");
    mkdir(CG "/r", 0755);
    write_file(CG "/r/cpuset.cpus", "0");
    pin_cpu0();
    int do_validate = 1, do_rebind = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-validate")) do_validate = 0;
        if (!strcmp(argv[i], "--no-rebind")) do_rebind = 0;
    }
    printf("@@PROBE {\"online\":\"%s\",\"nr_node_ids\":%d,\"cpu_node\":%d,\"page_size\":%ld}\n",
           (fmt_list(&online, all), all), nr_node_ids, cpu_node_of_cpu0(), page_size);
    if (do_validate) validate_all();
    if (do_rebind) rebind_all();
    printf("@@PROBE-DONE\n");
    return 0;
}
