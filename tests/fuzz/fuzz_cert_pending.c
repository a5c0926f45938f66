/* STATE/acme-challenges records (eon/cert_pending.h): any bytes must give
 * a record whose owner and value capd would itself write, or a message,
 * never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eon/cert_pending.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cert_pending p;
    struct err e;
    /* An exact-size copy: a read past the end is ASan's to see. */
    char *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    if (cert_pending_parse(copy, size, &p, &e) == 0) {
        if (strncmp(p.owner, "_acme-challenge.", 16) || !p.value[0] ||
            strlen(p.owner) > CERT_PENDING_OWNER_MAX || strlen(p.value) > CERT_PENDING_VALUE_MAX)
            abort();
    }
    free(copy);
    return 0;
}
