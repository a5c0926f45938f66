/* A whole zone built record by record (dns/zone_loader.h): a thin public
 * face on the private builder (zbuild.h). */
#include "dns/zone_loader.h"
#include "dns/zbuild.h"
#include <stdlib.h>

struct zone_loader {
    struct zbuild *b;
};

struct zone_loader *zone_loader_new(const uint8_t *apex)
{
    struct zbuild *b = zb_new(apex);
    if (!b) return NULL;
    zb_use_slabs(b); /* a transfer: no parse's heap to reuse */
    struct zone_loader *l = malloc(sizeof *l);
    if (!l) {
        zb_free(b);
        return NULL;
    }
    l->b = b;
    return l;
}

void zone_loader_free(struct zone_loader *l)
{
    if (!l) return;
    zb_free(l->b);
    free(l);
}

int zone_loader_add(struct zone_loader *l, const uint8_t *owner, uint16_t type, uint32_t ttl,
                    const uint8_t *rd, uint16_t rdlen, struct err *e)
{
    return zb_add(l->b, owner, type, ttl, rd, rdlen, false, 0, e);
}

int zone_loader_freeze(struct zone_loader *l, uint32_t serial, struct zone_version **out,
                       struct err *e)
{
    return zb_freeze(l->b, true, serial, out, e);
}
