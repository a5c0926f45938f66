/*
 * wire: the layout of the rpc.capnp structs this vat reads and writes
 * (offsets as `capnp compile -ocapnp /usr/include/capnp/rpc.capnp` prints
 * them; the RPC wire format is frozen). Offsets of primitives are in units
 * of the field's size; bools with a default of true are stored inverted.
 */
#ifndef CEON_RPC_WIRE_H
#define CEON_RPC_WIRE_H
#include "capnp/capnp.h"

/* Message: 1 data word, 1 ptr; union tag u16@0, every member is ptr 0. */
enum {
    MSG_WORDS = 1,
    MSG_PTRS = 1,
    MSG_UNIMPLEMENTED = 0,
    MSG_ABORT = 1,
    MSG_CALL = 2,
    MSG_RETURN = 3,
    MSG_FINISH = 4,
    MSG_RESOLVE = 5,
    MSG_RELEASE = 6,
    MSG_OBSOLETE_SAVE = 7,
    MSG_BOOTSTRAP = 8,
    MSG_OBSOLETE_DELETE = 9,
    MSG_PROVIDE = 10,
    MSG_ACCEPT = 11,
    MSG_JOIN = 12,
    MSG_DISEMBARGO = 13,
};
/* Bootstrap: 1 word, 1 ptr: questionId u32@0, deprecatedObjectId ptr0. */
enum { BOOT_WORDS = 1, BOOT_PTRS = 1 };
/* Call: 3 words, 3 ptrs: questionId u32@0, methodId u16@2, sendResultsTo
 * tag u16@3 (0 caller, 1 yourself, 2 thirdParty), interfaceId u64@1,
 * target ptr0, params ptr1. */
enum { CALL_WORDS = 3, CALL_PTRS = 3 };
/* Return: 2 words, 1 ptr: answerId u32@0, releaseParamCaps bit 32
 * (default true), tag u16@3 (0 results, 1 exception, 2 canceled,
 * 3 resultsSentElsewhere, 4 takeFromOtherQuestion, 5 acceptFromThirdParty),
 * results/exception ptr0. */
enum { RET_WORDS = 2, RET_PTRS = 1, RET_RESULTS = 0, RET_EXCEPTION = 1, RET_CANCELED = 2 };
/* Finish: 1 word: questionId u32@0, releaseResultCaps bit 32 (default true). */
enum { FIN_WORDS = 1, FIN_PTRS = 0 };
/* Resolve: 1 word, 1 ptr: promiseId u32@0, tag u16@2 (0 cap, 1 exception). */
enum { RES_WORDS = 1, RES_PTRS = 1 };
/* Release: 1 word: id u32@0, referenceCount u32@1. */
enum { REL_WORDS = 1, REL_PTRS = 0 };
/* Disembargo: 1 word, 1 ptr: target ptr0, context tag u16@2 (0
 * senderLoopback, 1 receiverLoopback, 2 accept, 3 provide), value u32@0. */
enum { DIS_WORDS = 1, DIS_PTRS = 1, DIS_SENDER_LOOPBACK = 0, DIS_RECEIVER_LOOPBACK = 1 };
/* MessageTarget: 1 word, 1 ptr: tag u16@2 (0 importedCap u32@0,
 * 1 promisedAnswer ptr0). */
enum { TGT_WORDS = 1, TGT_PTRS = 1 };
/* Payload: 0 words, 2 ptrs: content ptr0, capTable ptr1. */
enum { PAY_WORDS = 0, PAY_PTRS = 2 };
/* CapDescriptor: 1 word, 1 ptr: tag u16@0, id u32@1, attachedFd u8@2
 * (default 255), receiverAnswer/thirdPartyHosted ptr0. */
enum { CD_WORDS = 1, CD_PTRS = 1 };
/* PromisedAnswer: 1 word, 1 ptr: questionId u32@0, transform ptr0 =
 * List(Op); Op: 1 word: tag u16@0 (0 noop, 1 getPointerField u16@1). */
enum { PA_WORDS = 1, PA_PTRS = 1, OP_WORDS = 1, OP_PTRS = 0 };
/* Exception: 1 word, 2 ptrs: reason ptr0, type u16@2, trace ptr1. */
enum { EXC_WORDS = 1, EXC_PTRS = 2 };
#endif
