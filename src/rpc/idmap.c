/* The rpc tables: a small open-addressing hash map (linear probing,
 * backward-shift deletion) and an ID allocator that reuses low IDs first,
 * as the protocol recommends so that tables stay dense. */
#include <stdlib.h>

#include "rpc/rpc_int.h"

#define EMPTY UINT64_MAX

static uint32_t slot_of(uint64_t k, uint32_t cap)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (uint32_t)k & (cap - 1);
}

void *idmap_get(const struct idmap *m, uint64_t k)
{
    if (!m->cap) return NULL;
    for (uint32_t i = slot_of(k, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == k) return m->vals[i];
        if (m->keys[i] == EMPTY) return NULL;
    }
}

/* The tables are bounded by the vat's limits: internal objects, which
 * abort on allocation failure (util/xalloc.h). */
static int grow(struct idmap *m)
{
    uint32_t ncap = m->cap ? m->cap * 2 : 16;
    uint64_t *keys = xmalloc(sizeof *keys * ncap);
    void **vals = xmalloc(sizeof *vals * ncap);
    for (uint32_t i = 0; i < ncap; i++)
        keys[i] = EMPTY;
    for (uint32_t j = 0; j < m->cap; j++) {
        if (m->keys[j] == EMPTY) continue;
        uint32_t i = slot_of(m->keys[j], ncap);
        while (keys[i] != EMPTY)
            i = (i + 1) & (ncap - 1);
        keys[i] = m->keys[j];
        vals[i] = m->vals[j];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = ncap;
    return 0;
}

int idmap_put(struct idmap *m, uint64_t k, void *v)
{
    if ((m->len + 1) * 4 > m->cap * 3 && grow(m) < 0) return -1;
    uint32_t i = slot_of(k, m->cap);
    while (m->keys[i] != EMPTY && m->keys[i] != k)
        i = (i + 1) & (m->cap - 1);
    if (m->keys[i] == EMPTY) m->len++;
    m->keys[i] = k;
    m->vals[i] = v;
    return 0;
}

void *idmap_del(struct idmap *m, uint64_t k)
{
    if (!m->cap) return NULL;
    uint32_t i = slot_of(k, m->cap);
    while (m->keys[i] != k) {
        if (m->keys[i] == EMPTY) return NULL;
        i = (i + 1) & (m->cap - 1);
    }
    void *v = m->vals[i];
    m->len--;
    /* Backward-shift: move later entries of the probe run into the gap. */
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & (m->cap - 1);
        if (m->keys[j] == EMPTY) break;
        uint32_t home = slot_of(m->keys[j], m->cap);
        if (((j - home) & (m->cap - 1)) >= ((j - i) & (m->cap - 1))) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->keys[i] = EMPTY;
    return v;
}

bool idmap_next(const struct idmap *m, uint32_t *i, uint64_t *k, void **v)
{
    for (; *i < m->cap; (*i)++) {
        if (m->keys[*i] != EMPTY) {
            *k = m->keys[*i];
            *v = m->vals[*i];
            (*i)++;
            return true;
        }
    }
    return false;
}

void idmap_free(struct idmap *m)
{
    free(m->keys);
    free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->len = 0;
}

uint32_t idalloc_get(struct idalloc *a)
{
    if (a->nfree) {
        /* Lowest free id: the free list is kept as a min-heap. */
        uint32_t top = a->free[0];
        uint32_t last = a->free[--a->nfree], i = 0;
        for (;;) {
            uint32_t l = 2 * i + 1, r = l + 1, m = i;
            uint32_t mv = last;
            if (l < a->nfree && a->free[l] < mv) {
                m = l;
                mv = a->free[l];
            }
            if (r < a->nfree && a->free[r] < mv) m = r;
            if (m == i) break;
            a->free[i] = a->free[m];
            i = m;
        }
        if (a->nfree) a->free[i] = last;
        return top;
    }
    return a->next++;
}

void idalloc_put(struct idalloc *a, uint32_t id)
{
    if (a->nfree == a->cap) {
        uint32_t ncap = a->cap ? a->cap * 2 : 16;
        a->free = xrealloc(a->free, sizeof *a->free * ncap);
        a->cap = ncap;
    }
    uint32_t i = a->nfree++;
    while (i > 0 && a->free[(i - 1) / 2] > id) {
        a->free[i] = a->free[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    a->free[i] = id;
}

void idalloc_free(struct idalloc *a)
{
    free(a->free);
    a->free = NULL;
    a->nfree = a->cap = a->next = 0;
}
