/*
 * zone: the zone store.
 *
 * A zone_version is one immutable snapshot of a zone: its nodes (one per
 * owner name, plus one per empty non-terminal), each with its RRsets, in a
 * persistent hash trie (lookups) and a persistent B+tree (canonical order).
 * It never changes after it is built, so any number of threads read it
 * without locks. Changing a zone means building a new version
 * (zone_version_apply, which copies only the paths to what changed and
 * shares the rest with the old version: dns/zstore.h) and publishing it
 * (zone_publish).
 *
 * A zone is one served zone: its apex and an RCU-protected pointer to the
 * current version. A zone_set is every served zone, itself immutable and
 * RCU-published through a zone_set_handle, so zones can be added at run time.
 *
 * RCU flavour: liburcu QSBR (urcu-qsbr). What a reader thread must do:
 *   - call rcu_register_thread() once before its first read, and
 *     rcu_unregister_thread() before it exits;
 *   - between reads, announce quiescent states: call rcu_quiescent_state()
 *     regularly (e.g. after each batch of packets), and call
 *     rcu_thread_offline() before blocking (recvmmsg, epoll_wait, uv_run) and
 *     rcu_thread_online() after. A thread that blocks while online stalls
 *     every writer in zone_publish.
 *   - pointers from zone_set_current/zone_current/zone_set_find and
 *     everything reached through them are valid until the thread's next
 *     quiescent state (or offline period), and no longer.
 * rcu_read_lock()/rcu_read_unlock() are no-ops in QSBR but may be used to
 * mark the read sections.
 *
 * Writers: zone_publish waits for a grace period with synchronize_rcu()
 * and then frees the old version itself. We chose synchronize_rcu over
 * call_rcu because writes are rare (updates, transfers, ACME challenges) and
 * a synchronous free makes a publish's memory effects deterministic
 * (tests and leak checkers see the old version gone when publish returns),
 * needs no call_rcu worker thread, and naturally throttles a writer that
 * publishes faster than readers move on. The cost is that zone_publish
 * blocks for one grace period (typically well under a millisecond with
 * readers that announce quiescent states; it must not be called from a
 * thread that holds pointers into the zone store, and a registered caller
 * is taken offline for the wait by liburcu).
 *
 * The journal's group commit, where updates are frequent, splits it:
 * zone_publish_swap under the zone lock, then its background thread waits
 * one grace period for every version replaced meanwhile and releases them
 * (dns/journal_compact.c), off the lock and out of the updates' replies.
 */
#ifndef CEON_DNS_ZONE_H
#define CEON_DNS_ZONE_H
#include "dns/name.h"
#include "util/err.h"
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One RRset. rdata holds `count` RRs back to back, each as a 2-byte
 * big-endian length followed by that many bytes of uncompressed RDATA,
 * in canonical RDATA order (RFC 4034 §6.3), without duplicates. The
 * length prefix is exactly the RDLENGTH field of the wire format. */
struct dns_rrset {
    uint16_t type;
    uint16_t count;
    uint32_t ttl;
    uint32_t rdata_size; /* bytes at rdata, length prefixes included */
    const uint8_t *rdata;
};

/* Walk an RRset: for (p = rrset_first(s); p; p = rrset_next(s, p)) with
 * rr_rdlen(p) bytes of RDATA at rr_rdata(p). */
static inline const uint8_t *rrset_first(const struct dns_rrset *s)
{
    return s->count ? s->rdata : NULL;
}
static inline uint16_t rr_rdlen(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline const uint8_t *rr_rdata(const uint8_t *p)
{
    return p + 2;
}
static inline const uint8_t *rrset_next(const struct dns_rrset *s, const uint8_t *p)
{
    const uint8_t *n = p + 2 + rr_rdlen(p);
    return n < s->rdata + s->rdata_size ? n : NULL;
}

/* Node flags, computed when a version is built so the query engine needs
 * no scanning. */
enum zone_node_flag {
    ZN_APEX = 1 << 0,         /* the zone apex */
    ZN_DELEG = 1 << 1,        /* has NS and is not the apex: a zone cut */
    ZN_DNAME = 1 << 2,        /* has a DNAME RRset */
    ZN_CNAME = 1 << 3,        /* has a CNAME RRset */
    ZN_WILDCARD = 1 << 4,     /* own name is "*.<parent>" */
    ZN_HAS_WILDCARD = 1 << 5, /* the node "*.<this name>" exists */
    ZN_OCCLUDED = 1 << 6,     /* a proper ancestor is a cut (ZN_DELEG) or has DNAME:
                                 this node's data is glue or occluded */
};

/* One owner name. An empty non-terminal is a node with nrrsets == 0. */
struct zone_node {
    const uint8_t *name;            /* lowercase wire name */
    const struct dns_rrset *rrsets; /* nrrsets RRsets sorted by type */
    uint32_t hash;                  /* dns_name_hash(name) */
    uint32_t gen;                   /* private: the writer transaction that made it */
    uint16_t flags;                 /* enum zone_node_flag */
    uint16_t nrrsets;
    uint8_t name_len;
    uint8_t labels; /* dns_name_labels(name) */
    uint8_t alloc;  /* private (dns/zstore.c): 1 if carved from a load's slab (dns/zslab.h) */
};

/* The negative answer's SOA, laid out once per version when the version is
 * published (zone_new, zone_publish_swap), so that dns_answer writes it
 * without a compression search (issue 12): MNAME and RNAME as their labels
 * before the apex (the prefix) followed by a pointer to the apex, whose
 * place in the message the question gives. soa == NULL: not laid out (no
 * SOA name under the apex, the root zone, a name of the prefix that could
 * compress against the other's): the general path answers. */
struct zone_soa_layout {
    const struct dns_rrset *soa;
    uint32_t neg_ttl;     /* min(SOA TTL, MINIMUM), RFC 2308 §3 */
    uint16_t rname_at;    /* RNAME's offset in the RDATA */
    uint8_t mpre, rpre;   /* bytes of MNAME / RNAME before the apex (0: the apex) */
    uint8_t mlast, rlast; /* offset in MNAME / RNAME of its last label before the apex */
};

struct phamt;
struct pbt_node;
struct zone_version {
    const uint8_t *apex; /* lowercase wire name, the apex node's */
    uint32_t serial;     /* SOA serial */
    size_t nnodes;       /* nodes, empty non-terminals included */
    size_t nrecords;     /* RRs in the version, for information */
    /* private (dns/zstore.h): the nodes, shared with the versions built
     * from this one and the one it was built from, in two persistent
     * indexes; and what reclaiming them needs. */
    const struct zone_node *apex_node;
    const struct phamt *index;    /* by name: every lookup */
    const struct pbt_node *order; /* canonical order: walks */
    struct zone_version *base;    /* the version this one was built from (reclaim) */
    struct zone_version *kids;    /* versions built from this one, still alive */
    struct zone_version *next_sib, *prev_sib;
    uint32_t gen;  /* its writer transaction: nodes it made carry it */
    bool dead;     /* freed by its last holder */
    void *retired; /* struct zv_retired: what it replaced in base */
    /* Holders besides the zone that publishes it: see zone_version_hold. */
    unsigned long holds;
    struct zone_soa_layout soa_layout; /* set before the version is published */
};

/* Finds the node of lname (lowercase wire name, length len), or NULL. */
const struct zone_node *zone_version_find(const struct zone_version *v, const uint8_t *lname,
                                          size_t len);
/* The RRset of the given type at node n, or NULL. */
const struct dns_rrset *node_rrset(const struct zone_node *n, uint16_t type);
/* The apex SOA RRset (always present in a valid version). */
const struct dns_rrset *zone_version_soa(const struct zone_version *v);
/* The apex node. */
const struct zone_node *zone_version_apex_node(const struct zone_version *v);
/* The node one label up from n, found by name (NULL at the apex). Callers
 * use this rather than a stored parent pointer: versions that share nodes
 * cannot keep parent pointers (issue 12). */
const struct zone_node *zone_version_parent(const struct zone_version *v,
                                            const struct zone_node *n);

/* The nodes of a version in canonical order (RFC 4034 §6.1), the apex
 * first, empty non-terminals included: zone_cursor_start, then
 * zone_cursor_next until it returns NULL. A cursor may be kept across loop
 * iterations while the version is held. */
struct pbt_iter { /* see dns/pbtree.h */
    const struct pbt_node *stack[16];
    uint16_t idx[16];
    int depth;
};
struct zone_cursor {
    struct pbt_iter it;
};
void zone_cursor_start(struct zone_cursor *c, const struct zone_version *v);
const struct zone_node *zone_cursor_next(struct zone_cursor *c);

/* Calls fn for every RRset of the version, nodes in canonical order, RRsets
 * in type order (the SOA is not moved first: AXFR callers send it
 * themselves). Stops and returns fn's value when fn returns non-zero. */
typedef int (*zone_rrset_fn)(void *ctx, const struct zone_node *node, const struct dns_rrset *s);
int zone_version_foreach(const struct zone_version *v, zone_rrset_fn fn, void *ctx);

void zone_version_free(struct zone_version *v);

/*
 * Keeping a published version beyond a read-side section (a zone transfer
 * that streams it over many loop iterations, with the thread offline in
 * between). Call zone_version_hold inside the read-side section in which
 * the version was found; then the version stays valid, even after it is
 * replaced and the grace period has passed, until zone_version_release.
 * zone_publish and zone_free release the zone's own hold instead of freeing,
 * so whichever lets go last frees it. Why a count rather than staying
 * online: a QSBR reader that stays online through a long transfer would
 * block every zone_publish (and so every update) until it ends.
 */
void zone_version_hold(const struct zone_version *v);
void zone_version_release(const struct zone_version *v);

/*
 * Called after every zone_publish (any zone, any thread, with the zone's
 * writer lock held): the apex (lowercase wire) and the new serial. Used to
 * send NOTIFY; it must not block and must not call back into the zone.
 * Set once, before updates can start; NULL turns it off.
 */
typedef void (*zone_publish_hook)(void *ctx, const uint8_t *apex, uint32_t serial);
void zone_set_publish_hook(zone_publish_hook fn, void *ctx);

/* ---- change sets ---- */
enum dns_change_op {
    DNS_CHANGE_ADD,       /* add one RR; an RR already present is a no-op. A new RR in an
                             existing RRset sets the RRset's TTL to ttl (RFC 2181 §5.2). */
    DNS_CHANGE_DEL,       /* delete one RR (matched on owner, type, RDATA; ttl ignored);
                             absent RR is a no-op */
    DNS_CHANGE_DEL_RRSET, /* delete the RRset owner/type (rdata ignored) */
    DNS_CHANGE_DEL_NAME,  /* delete every RRset at owner (type and rdata ignored) */
};
struct dns_change {
    enum dns_change_op op;
    const uint8_t *owner; /* wire name, any case, must be at or below the apex */
    uint16_t type;
    uint32_t ttl;
    uint16_t rdlen;
    const uint8_t *rdata; /* uncompressed wire RDATA */
};

/*
 * Builds a new version = old with the n changes applied in order, and the
 * SOA serial set to new_serial (the SOA RDATA is rewritten; the SOA RRset
 * itself may also be replaced by the changes). old is not modified and stays
 * valid. Semantics: see enum dns_change_op; deleting the last RR of an RRset
 * removes the RRset; a node with no RRsets disappears unless it is still an
 * empty non-terminal. Fails (nothing built) if an owner is outside the zone,
 * the RDATA is malformed for its type, a meta type is used, or the result
 * would not have exactly one SOA RR at the apex, or a CNAME would share its
 * owner with other data (RFC 1034 §3.6.2; RRSIG/NSEC excepted), or a
 * name would get more than one DNAME.
 * The new version shares every node it did not change with old; either may
 * still be freed at any time, in any order (dns/zstore.h reclaims what
 * neither reaches). Cost: the touched names go through a builder; their
 * nodes, new empty non-terminals, nodes whose inherited flags change (below
 * a cut or DNAME added or removed: that subtree) and the apex are copied,
 * with their paths in both indexes: microseconds, whatever the zone's size.
 */
int zone_version_apply(const struct zone_version *old, const struct dns_change *changes, size_t n,
                       uint32_t new_serial, struct zone_version **out, struct err *e);

/* ---- loading ---- */

/*
 * Loads a zone file (RFC 1035 §5: $ORIGIN, $TTL, $INCLUDE, parentheses, @,
 * relative names, every type libzscanner knows). origin (wire, may be NULL)
 * is the initial $ORIGIN and the expected apex; with NULL the apex is the
 * owner of the SOA record, and the initial origin is the root. Records of
 * class other than IN, and records outside the apex, are errors. Errors read
 * "file:line: reason". Requires exactly one SOA RR, at the apex.
 */
int zone_load_file(const char *path, const uint8_t *origin, struct zone_version **out,
                   struct err *e);
/* zone_load_file that also copies into apex_as_written (DNS_NAME_MAX bytes)
 * the apex as the file spells it, case kept: the owner of the last record
 * at the apex. That is the spelling the OCaml original keeps: its zone
 * parser maps owner names case-insensitively, each record's name replacing
 * the key, so its zone is named after the last spelling in the file. */
int zone_load_file_as_written(const char *path, const uint8_t *origin, struct zone_version **out,
                              uint8_t *apex_as_written, struct err *e);
/* Same from a NUL-terminated string; `name` is used as the file name in
 * messages. $INCLUDE paths are relative to the current directory. */
int zone_load_string(const char *text, const char *name, const uint8_t *origin,
                     struct zone_version **out, struct err *e);

/*
 * Synthesises a zone for a name served without a zone file (capd -a NAME),
 * as the OCaml original does with Dns.Soa.create: SOA with MNAME = NAME,
 * RNAME = "hostmaster." + NAME minus its first label ("hostmaster." for
 * single-label names), the given serial, refresh 86400, retry 7200, expire
 * 3600000, minimum 3600, TTL 3600. The original adds no NS; we add
 * "NAME NS NAME." (TTL 3600) so the apex answers NS queries and referrals
 * from a parent can be checked against it.
 */
int zone_synthesize(const uint8_t *apex, uint32_t serial, struct zone_version **out, struct err *e);

/* ---- zones ---- */
struct zone {
    uint8_t apex[DNS_NAME_MAX]; /* lowercase */
    uint8_t apex_len;
    /* The apex as the operator spelled it (case kept): capd's Cap'n Proto
     * side names the zone this way, as the OCaml original does, because its
     * service IDs are derived from the name's bytes. Same as apex unless
     * zone_set_apex_as_written was called. */
    uint8_t apex_as_written[DNS_NAME_MAX];
    /* RCU-protected current version: readers use zone_current(). */
    struct zone_version *version;
    /* Serialises writers (zone_lock). Readers never take it. */
    pthread_mutex_t writer;
    void *user; /* for higher layers (update engine, journal, eon); not touched here */
};

/* Creates a zone serving `initial` (ownership passes to the zone, also on
 * failure). */
struct zone *zone_new(struct zone_version *initial, struct err *e);
/* Sets z->apex_as_written. Ignored (0 returned) unless the name equals the
 * apex case-insensitively; returns 1 when set. */
int zone_set_apex_as_written(struct zone *z, const uint8_t *as_written);
/* Frees the zone and its version. Only when no reader can reach it any more
 * (after it left every published zone_set and a grace period passed). */
void zone_free(struct zone *z);

/* Reader side: the current version (rcu_dereference). Writers holding the
 * zone lock may call it too (the version cannot change under them). */
const struct zone_version *zone_current(const struct zone *z);

void zone_lock(struct zone *z);
void zone_unlock(struct zone *z);
/* Publishes v (rcu_assign_pointer), waits for a grace period and frees the
 * previous version. Caller holds the zone lock; v's apex must equal the
 * zone's. Ownership of v passes to the zone. */
void zone_publish(struct zone *z, struct zone_version *v);
/* The first half of zone_publish: publishes v (and calls the publish hook)
 * and returns the previous version, which the caller releases
 * (zone_version_release) once a grace period has passed (synchronize_rcu),
 * after dropping the zone lock: writers then do not wait for readers
 * under the lock, and one grace period can cover many versions. */
struct zone_version *zone_publish_swap(struct zone *z, struct zone_version *v);
/* lock + zone_version_apply on the current version + publish + unlock. */
int zone_apply(struct zone *z, const struct dns_change *changes, size_t n, uint32_t new_serial,
               struct err *e);

/* ---- the set of served zones ---- */
struct zone_set {
    size_t n;
    struct zone **zones; /* in insertion order */
    /* private: hash of apex -> zone, mask+1 slots */
    struct zone **table;
    uint32_t mask;
    uint8_t max_labels; /* most labels of any apex, to start the search */
};

struct zone_set_handle {
    struct zone_set *current; /* RCU-protected; use zone_set_current() */
    pthread_mutex_t lock;     /* serialises zone_set_add/remove */
};

void zone_set_handle_init(struct zone_set_handle *h);
/* Frees every zone and the set. Only after all readers are gone. */
void zone_set_handle_destroy(struct zone_set_handle *h);
/* Adds z (ownership passes to the set on success). Fails if a zone with the
 * same apex is already served. Publishes a new set and frees the old set
 * (not the zones) after a grace period. */
int zone_set_add(struct zone_set_handle *h, struct zone *z, struct err *e);
/* Removes the zone with this apex (any case) and returns it (the caller
 * frees it with zone_free: the grace period has already passed), or NULL if
 * no such zone is served (or, with the set unchanged, out of memory). */
struct zone *zone_set_remove(struct zone_set_handle *h, const uint8_t *apex);

/* Reader side: the current set (rcu_dereference). Never NULL once
 * initialised (an empty set has n == 0). */
const struct zone_set *zone_set_current(const struct zone_set_handle *h);
/* The zone whose apex is the longest suffix of lname (lowercase wire name),
 * or NULL if lname is in no served zone. */
struct zone *zone_set_find(const struct zone_set *zs, const uint8_t *lname);
/* The zone with exactly this apex (lowercase), or NULL. */
struct zone *zone_set_get(const struct zone_set *zs, const uint8_t *apex);
#endif
