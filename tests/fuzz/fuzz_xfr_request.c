/* libFuzzer target: zone transfer requests (dns/xfr.h) and their TSIG
 * (dns/tsig.h), the new input capd parses from secondaries.
 *
 * Input: a DNS message as it arrives over TCP. It goes through
 * xfr_is_request, xfr_request_parse and, when it parses, a whole transfer
 * of a fixed zone in small messages (every message must fit its buffer and
 * the stream must end); and through dns_tsig_check_request with a fixed
 * key (a signed answer must fit the buffer it was given).
 */
#include "dns/tsig.h"
#include "dns/wire.h"
#include "dns/xfr.h"
#include "dns/zone.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct zone_version *version;
static struct dns_tsig_key *key;

static const char *ZONE = "$ORIGIN example.org.\n$TTL 3600\n"
                          "@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
                          "@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.10\nwww TXT \"x\"\n"
                          "sub NS ns.sub\nns.sub A 192.0.2.53\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct err e;
    if (!version) {
        if (zone_load_string(ZONE, "fuzz.zone", NULL, &version, &e) < 0 ||
            dns_tsig_key_parse("xfr-key:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=", &key, &e) <
                0) {
            fprintf(stderr, "%s\n", e.msg);
            abort();
        }
    }
    if (size > 65535) return 0;
    bool is = xfr_is_request(data, size);
    struct xfr_request r;
    if (xfr_request_parse(data, size, &r) == 0) {
        if (!is) abort(); /* what parses must be recognised as a transfer */
        struct xfr_stream *s;
        if (xfr_stream_open(&r, version, NULL, &s, &e) == 0) {
            uint8_t msg[512];
            size_t len;
            int k, n = 0;
            while ((k = xfr_stream_next(s, msg, sizeof msg, &len, &e)) == 1) {
                if (len > sizeof msg || ++n > 100) abort();
            }
            xfr_stream_close(s);
        }
    }
    uint8_t ans[1024];
    size_t alen = xfr_refusal(data, size, DNS_RC_NOTAUTH, ans, sizeof ans);
    if (alen > sizeof ans) abort();
    struct dns_tsig_session ts;
    char why[256];
    const struct dns_tsig_key *keys[] = {key};
    dns_tsig_check_request(keys, 1, data, size, &ts, ans, &alen, sizeof ans, why, sizeof why);
    if (alen > sizeof ans) abort();
    return 0;
}
