/*
 * addr: socket addresses for the DNS listeners. Parses the numeric
 * addresses given to `capd -b` (no name resolution: a listener must not
 * depend on DNS) and formats peers for log lines.
 */
#ifndef CEON_NET_ADDR_H
#define CEON_NET_ADDR_H
#include "util/err.h"
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct net_addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

/* Parses a numeric IPv4 or IPv6 address ("::", "127.0.0.1", "fe80::1%lo")
 * and sets the port. Brackets ("[::1]") are accepted for IPv6. */
int net_addr_parse(struct net_addr *a, const char *text, uint16_t port, struct err *e);
/* False on a kernel without IPv6 (booted with ipv6.disable=1): then the
 * default listen address "::" cannot exist and "0.0.0.0" stands in. */
bool net_ipv6_available(void);
/* True for the IPv4 or IPv6 wildcard address. */
bool net_addr_is_any(const struct net_addr *a);
/* Writes "1.2.3.4#53" or "::1#53" (the dig notation) into out (NUL-terminated,
 * truncated to cap). Works on any sockaddr of family AF_INET/AF_INET6; shows
 * v4-mapped IPv6 addresses as plain IPv4. */
void net_addr_format(const struct sockaddr *sa, char *out, size_t cap);
/* Buffer size that always fits net_addr_format's output. */
#define NET_ADDR_STRLEN 64
#endif
