# ceon's control-plane interface. Wire-compatible with the original eon
# capd/capc: the file ID and every declaration name below determine the
# type IDs, so spellings (including `registerSeconday`) must not change.
# Compatible evolution only: new fields/methods with higher ordinals.
@0xf8f86fb5561e3599;

struct Prereq {
  name @0 :Text;
  union {
    exists :group {
      type @1 :Int16;
    }
    existsData :group {
      type @2 :Int16;
      value @3 :Data;
    }
    notExists :group {
      type @4 :Int16;
    }
    nameInUse @5 :Void;
    notNameInUse @6 :Void;
  }
}

struct Update {
  name @0 :Text;
  union {
    add :group {
      type @1 :Int16;
      value @2 :Data;
      ttl @3 :Int32;
    }
    remove :group {
      type @4 :Int16;
    }
    removeAll @5 :Void;
    removeSingle :group {
      type @6 :Int16;
      value @7 :Data;
    }
  }
}

struct CertReq {
  union {
    callback @0 :CertCallback;
    none @1 :Void;
  }
}

interface Domain {
  getName @0 () -> (name :Text);
  delegate @1 (subdomain :Text) -> (domain :Domain);
  update @2 (prereqs :List(Prereq), updates :List(Update)) -> (success :Bool, error :Text);
  cert @3 (email :Text, domains :List(Text), org :Text, certCallback :CertCallback) -> ();
}

interface Primary {
  getName @0 () -> (name :Text);
  registerSeconday @1 (secondary :Secondary) -> ();
  updateSecondaries @2 (prereqs :List(Prereq), updates :List(Update)) -> (success :Bool, error :Text);
}

interface Secondary {
  getName @0 () -> (name :Text);
  update @1 (prereqs :List(Prereq), updates :List(Update)) -> (success :Bool, error :Text);
}

interface CertCallback {
  register @0 (success :Bool, error :Text, cert :Data, key :Text, renewed :Bool) -> ();
}
