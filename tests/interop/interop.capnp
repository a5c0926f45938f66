# The interface both interop peers implement (the C side in
# tests/unit/rpc/rpc_test_service.h, the C++ side in interop_peer.c++).
@0xd1e2f3a4b5c6d7e8;

interface Test @0xabcdef0123456789 {
  echo @0 (text :Text) -> (text :Text);
  child @1 (name :Text) -> (child :Test);   # a new object named "name.<parent>"
  getName @2 () -> (name :Text);
  callback @3 (cb :Callback) -> ();         # calls cb.notify(<own name>) first
  later @4 (text :Text) -> (text :Text);    # answers asynchronously
  next @5 () -> (n :UInt64);                # a per-object counter
  identity @6 (cap :Callback) -> (cap :Callback);  # returns what it got
  nameOf @7 (t :Test) -> (name :Text);      # t.getName()
  childLater @8 (name :Text) -> (child :Test);  # child(), answered after 20 ms
}

interface Callback @0x9122334455667788 {
  notify @0 (text :Text) -> ();
}
