# What capd saves in its state dir for each sturdy ref it hands out.
# New fields or structs must take higher ordinals to stay readable.
@0x8c940eaf41b95341;

struct SavedDomain {
  name @0 :Text;
  primary @1 :Text;
}

struct SavedSecondary {
  name @0 :Text;
}

struct SavedService {
  union {
    domain @0 :SavedDomain;
    secondary @1 :SavedSecondary;
  }
}
