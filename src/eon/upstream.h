/*
 * upstream: the link from a secondary to its primary, one per --primary
 * FILE, on libuv timers (never blocking the loop):
 *
 *   connect (rpc_vat_restore_uri of the file's URI) -> Primary.getName
 *   -> the zone's Secondary service (eon/secondary.h) -> registerSeconday
 *   -> registered: Primary.getName every --primary-retry-wait / 4 (at
 *      most 15 s) as a heartbeat, on the same connection.
 *
 * Every call has a deadline (--primary-retry-wait, at least 10 s): a
 * stopped primary answers nothing, and the rpc layer has no call timeout.
 * Any failure (refused, disconnected, an exception, no answer, getName naming
 * another zone than recorded) logs one line naming the file and what to
 * do, and the link starts again after --primary-retry-wait seconds. This
 * covers a primary that restarts and a connection that drops; the primary
 * catches the secondary up when it registers again (the updates carry
 * prerequisites on the SOA). The functions are in secondary_int.h.
 */
#ifndef CEON_EON_UPSTREAM_H
#define CEON_EON_UPSTREAM_H
#include "eon/secondary_int.h"
#endif
