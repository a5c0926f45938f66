/*
 * fuzz_subdomain_check: the subdomain a peer names in Domain.delegate
 * (eon/domain.h eon_subdomain_check), checked before capd makes a service
 * for SUB.PARENT and writes STATE/caps/domain/SUB.PARENT.cap.
 *
 * Input: the subdomain text (cut at the first NUL, as do_delegate refuses
 * a Text with a NUL in it). The parent is fixed, example.org.
 * Checked on what is accepted: SUB.PARENT is a DNS name strictly below the
 * parent (one label more at least), and it is safe as a file name
 * (eon_name_file_safe: no '/', no empty label, so no "..", no path). A
 * refusal has a message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/name.h"
#include "eon/domain.h"
#include "eon/state.h"

#include "fuzz_check.h"

static const uint8_t ROOT[1] = {0};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size string: a read past its NUL is ASan's to see. */
    char *sub = malloc(size + 1);
    if (!sub) return 0;
    memcpy(sub, data, size);
    sub[size] = 0;
    const char *parent = "example.org";
    struct err e;
    e.msg[0] = 0;
    if (eon_subdomain_check(sub, parent, &e) == 0) {
        char full[2 * DNS_NAME_TEXT_MAX];
        snprintf(full, sizeof full, "%s.%s", sub, parent);
        uint8_t w[DNS_NAME_MAX], pw[DNS_NAME_MAX];
        struct err ne;
        CHECK(dns_name_from_text(full, ROOT, w, &ne) > 0);
        CHECK(dns_name_from_text(parent, ROOT, pw, &ne) > 0);
        CHECK(dns_name_is_subdomain(w, pw));
        CHECK(dns_name_labels(w) > dns_name_labels(pw));
        CHECK(eon_name_file_safe(full));
        CHECK(!strchr(full, '/'));
    } else {
        CHECK(e.msg[0]);
    }
    free(sub);
    return 0;
}
