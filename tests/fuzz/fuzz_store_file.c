/* Saved-service files from a state dir (issue 11): any bytes, read as the
 * original's flat record and as an earlier ceon's container, must give a
 * record or a message, never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eon/saved.h"
#include "rpc/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct eon_saved saved;
    struct err e;
    /* An aligned copy, as read_file gives the readers. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    eon_saved_decode(copy, size, &saved, &e);
    /* The old container, stored under the hash it names (so the
     * conversion itself is reached, not only the hash check). */
    if (size >= 40) {
        uint8_t hash[32];
        memcpy(hash, copy + 8, 32);
        uint8_t *flat;
        size_t len;
        if (svc_store_legacy_to_flat(copy, size, hash, &flat, &len, &e) == 0) {
            eon_saved_decode(flat, len, &saved, &e);
            free(flat);
        }
    }
    free(copy);
    return 0;
}
