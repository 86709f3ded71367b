@0xbb00cb619190a1eb;
# Switchboard CRDT state and deltas. See schemas/FORMATS.md for the framing around these
# messages and the rules a decoder enforces beyond what Cap'n Proto checks.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("sb::wire");

struct Hlc {
  # Hybrid logical clock: 48-bit milliseconds since the Unix epoch and a 16-bit counter,
  # packed as (millis << 16) | counter so that integer order is timestamp order.
  packed @0 :UInt64;
}

struct Dot {
  replica @0 :UInt64;   # never 0
  counter @1 :UInt64;   # starts at 1
}

struct VersionEntry {
  replica @0 :UInt64;
  counter @1 :UInt64;   # every dot (replica, 1..counter) has been seen
}

struct CausalContext {
  vector @0 :List(VersionEntry);   # sorted by replica, no duplicates
  cloud @1 :List(Dot);             # dots seen beyond the vector, sorted, none covered by it
}

struct FieldValue {
  union {
    null @0 :Void;
    text @1 :Text;
    integer @2 :Int64;
    boolean @3 :Bool;
  }
}

struct RegisterEntry {
  # One sibling of a multi-value register.
  dot @0 :Dot;
  value @1 :FieldValue;
  stamp @2 :Hlc;        # when it was written; the displayed sibling has the greatest (stamp, replica)
}

struct SetElement {
  # One element of an add-wins set and the dots of the adds that are still live.
  element @0 :Text;
  dots @1 :List(Dot);
}

struct Field {
  name @0 :Text;
  union {
    register @1 :List(RegisterEntry);
    set @2 :List(SetElement);
  }
}

struct Record {
  # A record's whole state, or a delta of it: fields share one causal context. A delta's
  # context holds the dots it adds and the dots it supersedes.
  id @0 :Text;          # UUID
  kind @1 :Text;        # an HSDS kind: organization, service, location, ...
  context @2 :CausalContext;
  fields @3 :List(Field);  # sorted by name
}

struct Delta {
  # The unit that replicas exchange: one or more record deltas produced by one mutation
  # (or a batch of them), with the author's replica and clock for skew checks.
  author @0 :UInt64;
  stamp @1 :Hlc;
  records @2 :List(Record);
}

struct DirectoryState {
  # A replica's full directory (for snapshots, digests and anti-entropy).
  records @0 :List(Record);   # sorted by id
}
