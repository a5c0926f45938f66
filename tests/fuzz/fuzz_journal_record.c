/*
 * fuzz_journal_record: one journal entry (dns/journal_int.h jr_decode) as
 * it is read back from STATE's LMDB file at start (journal_replay) and by
 * IXFR: the file is on disk, so its bytes are outside input.
 *
 * Input: the entry's value bytes, in an exact-size buffer.
 * Checked on what decodes: a known kind, a snapshot holds only additions,
 * every owner is a valid wire name and every owner and RDATA lie inside
 * the value; and a change set encoded again by jr_encode (what capd itself
 * writes) decodes to the same changes. A rejected entry has a message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/journal_int.h"
#include "dns/name.h"

#include "fuzz_check.h"

static bool inside(const uint8_t *p, size_t n, const uint8_t *base, size_t size)
{
    return p >= base && (size_t)(p - base) <= size && n <= size - (size_t)(p - base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    MDB_val v = {size, copy};
    struct decoded d = {0};
    struct err e;
    e.msg[0] = 0;
    if (jr_decode(&v, &d, &e) < 0) {
        CHECK(e.msg[0]);
        free(d.ch);
        free(copy);
        return 0;
    }
    CHECK(d.kind == KIND_CHANGES || d.kind == KIND_SNAPSHOT);
    for (size_t i = 0; i < d.n; i++) {
        const struct dns_change *c = &d.ch[i];
        size_t ol = dns_name_len(c->owner);
        CHECK(inside(c->owner, ol, copy, size));
        CHECK(dns_name_check(c->owner, ol) == ol);
        CHECK(inside(c->rdata, c->rdlen, copy, size));
        CHECK(c->op <= DNS_CHANGE_DEL_NAME);
        if (d.kind == KIND_SNAPSHOT) CHECK(c->op == DNS_CHANGE_ADD);
    }
    if (d.kind == KIND_CHANGES) {
        struct jr_entry en;
        CHECK(jr_encode(d.from, d.to, d.ch, d.n, &en, &e) == 0);
        MDB_val v2 = {en.size, en.buf};
        struct decoded d2 = {0};
        if (jr_decode(&v2, &d2, &e) < 0) {
            fprintf(stderr, "fuzz_journal_record: our own entry does not decode: %s\n", e.msg);
            abort();
        }
        CHECK(d2.kind == d.kind && d2.from == d.from && d2.to == d.to && d2.n == d.n);
        for (size_t i = 0; i < d.n; i++) {
            const struct dns_change *a = &d.ch[i], *b = &d2.ch[i];
            bool rd = a->op == DNS_CHANGE_ADD || a->op == DNS_CHANGE_DEL;
            CHECK(a->op == b->op && a->type == b->type && a->ttl == b->ttl);
            CHECK(dns_name_len(a->owner) == dns_name_len(b->owner));
            CHECK(!memcmp(a->owner, b->owner, dns_name_len(a->owner)));
            /* RDATA is kept only where the operation uses it. */
            CHECK(b->rdlen == (rd ? a->rdlen : 0));
            if (rd) CHECK(!memcmp(a->rdata, b->rdata, a->rdlen));
        }
        free(d2.ch);
        free(en.buf);
    }
    free(d.ch);
    free(copy);
    return 0;
}
