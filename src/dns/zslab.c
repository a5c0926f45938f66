/* Slabs for a bulk load's zone nodes (dns/zslab.h). */
#include "dns/zslab.h"
#include <stdint.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older kernels refuse it, which is harmless */
#endif

/* At the start of each slab. live counts the objects not yet freed, plus
 * one while a loader carves from the slab (so that a node freed during the
 * load, e.g. a failed layout's, cannot unmap the slab under it). */
struct zslab {
    size_t live;
    size_t used; /* bytes carved, header included (only the loader's thread) */
};

static size_t nslabs;

static struct zslab *slab_new(void)
{
    /* twice the size, then trimmed to a 2 MiB boundary: a huge page can
     * back it, and a node's slab is its address rounded down */
    uint8_t *p =
        mmap(NULL, 2 * ZSLAB_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    uint8_t *al = (uint8_t *)(((uintptr_t)p + ZSLAB_SIZE - 1) & ~(uintptr_t)(ZSLAB_SIZE - 1));
    if (al > p) munmap(p, (size_t)(al - p));
    if (al + ZSLAB_SIZE < p + 2 * ZSLAB_SIZE)
        munmap(al + ZSLAB_SIZE, (size_t)(p + 2 * ZSLAB_SIZE - (al + ZSLAB_SIZE)));
    /* hints: without huge pages or populate, the kernel faults pages in
     * one by one as before */
    madvise(al, ZSLAB_SIZE, MADV_HUGEPAGE);
    madvise(al, ZSLAB_SIZE, MADV_POPULATE_WRITE);
    struct zslab *s = (struct zslab *)(void *)al;
    s->live = 1;
    s->used = (sizeof *s + 7) & ~(size_t)7;
    __atomic_add_fetch(&nslabs, 1, __ATOMIC_RELAXED);
    return s;
}

static void slab_put(struct zslab *s)
{
    if (__atomic_sub_fetch(&s->live, 1, __ATOMIC_ACQ_REL) != 0) return;
    munmap(s, ZSLAB_SIZE);
    __atomic_sub_fetch(&nslabs, 1, __ATOMIC_RELAXED);
}

void *zslab_alloc(struct zslab **cur, size_t n)
{
    if (n > ZSLAB_MAX_OBJECT) return NULL;
    n = (n + 7) & ~(size_t)7;
    struct zslab *s = *cur;
    if (!s || s->used + n > ZSLAB_SIZE) {
        struct zslab *ns = slab_new();
        if (!ns) return NULL;
        if (s) slab_put(s); /* the loader's hold moves to the new slab */
        *cur = s = ns;
    }
    void *p = (uint8_t *)s + s->used;
    s->used += n;
    __atomic_add_fetch(&s->live, 1, __ATOMIC_RELAXED);
    return p;
}

void zslab_free(const void *p)
{
    if (p) slab_put((struct zslab *)((uintptr_t)p & ~(uintptr_t)(ZSLAB_SIZE - 1)));
}

void zslab_release(struct zslab *s)
{
    if (s) slab_put(s);
}

size_t zslab_count(void)
{
    return __atomic_load_n(&nslabs, __ATOMIC_RELAXED);
}
