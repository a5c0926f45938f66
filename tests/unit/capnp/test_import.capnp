# Test schema that uses types from another file (test.capnp): the generated
# header must include test.capnp.h and name the imported types.
@0xd1a1e3e1b2c5f7a9;

using T = import "test.capnp";

struct Outer {
  all @0 :T.All;
  colors @1 :List(T.Color);
  inners @2 :List(T.Inner);
  color @3 :T.Color = green;
}

interface Svc {
  take @0 T.Inner -> (n :UInt8);
}
