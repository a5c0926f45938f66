/*
 * fuzz_tsig_key: --tsig-key values (dns/tsig.h dns_tsig_key_parse), the
 * "[hmac-sha256:]NAME:BASE64SECRET" text capd takes on its command line
 * and from its service files before it serves zone transfers.
 *
 * Input: the text (cut at the first NUL, as argv would be).
 * Checked: a key that parses has a printable name that fits its buffer and
 * a non-zero TSIG reserve (it can sign); a value that does not parse has a
 * message; nothing leaks either way.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/name.h"
#include "dns/tsig.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size string: a read past its NUL is ASan's to see. */
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    struct dns_tsig_key *k = NULL;
    struct err e;
    e.msg[0] = 0;
    if (dns_tsig_key_parse(text, &k, &e) == 0) {
        CHECK(k);
        const char *name = dns_tsig_key_name(k);
        CHECK(name[0] && strnlen(name, DNS_NAME_TEXT_MAX) < DNS_NAME_TEXT_MAX);
        CHECK(dns_tsig_reserve(k) > 0);
        dns_tsig_key_free(k);
    } else {
        CHECK(!k && e.msg[0]);
    }
    free(text);
    return 0;
}
