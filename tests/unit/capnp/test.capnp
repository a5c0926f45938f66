# Test schema: every field kind the generator and runtime handle, for the
# round trips against the reference `capnp encode` / `capnp decode`.
@0xc7c9e8e1fa4b2a51;

enum Color { red @0; green @1; blue @2; }

struct Inner {
  a @0 :UInt32;
  t @1 :Text;
}

struct All {
  b @0 :Bool;
  i8 @1 :Int8;
  i16 @2 :Int16;
  i32 @3 :Int32;
  i64 @4 :Int64;
  u8 @5 :UInt8;
  u16 @6 :UInt16;
  u32 @7 :UInt32;
  u64 @8 :UInt64;
  f32 @9 :Float32;
  f64 @10 :Float64;
  t @11 :Text;
  d @12 :Data;
  color @13 :Color;
  inner @14 :Inner;
  lVoid @15 :List(Void);
  lBool @16 :List(Bool);
  lU8 @17 :List(UInt8);
  lI16 @18 :List(Int16);
  lU32 @19 :List(UInt32);
  lI64 @20 :List(Int64);
  lF64 @21 :List(Float64);
  lText @22 :List(Text);
  lData @23 :List(Data);
  lInner @24 :List(Inner);
  lList @25 :List(List(UInt16));
  lColor @26 :List(Color);
  dBool @27 :Bool = true;
  dI32 @28 :Int32 = -123;
  dU64 @29 :UInt64 = 0xdeadbeef12345678;
  dF32 @30 :Float32 = 1.5;
  dF64 @31 :Float64 = -2.25;
  dText @32 :Text = "dflt";
  dData @33 :Data = 0x"01ff";
  dColor @34 :Color = blue;
  union {
    none @35 :Void;
    num @36 :UInt16;
    txt @37 :Text;
    grp :group {
      x @38 :UInt32;
      y @39 :Text;
    }
  }
  named :union {
    a @40 :Int8;
    b2 @41 :Text;
  }
  any @42 :AnyPointer;
}

# Defaults of pointer fields (read when the field is null).
struct Defaults {
  n @0 :UInt32;
  inner @1 :Inner = (a = 7, t = "seven");
  lInner @2 :List(Inner) = [(a = 1), (a = 2, t = "two")];
  lI32 @3 :List(Int32) = [-1, 2, 300000];
  lText @4 :List(Text) = ["x", "yz"];
  lBool @5 :List(Bool) = [true, false, true];
  lList @6 :List(List(UInt16)) = [[1, 2], [], [3]];
  emptyList @7 :List(UInt8) = [];
  noDefault @8 :Inner;
  union {
    u0 @9 :Void;
    uInner @10 :Inner = (a = 9);
  }
}

const answer :Int32 = -42;
const greeting :Text = "hi \"there\"";
