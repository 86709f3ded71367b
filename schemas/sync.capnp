@0xeff05f4be66686fa;
# The sync protocol between agents (ZeroMQ DEALER) and the broker (ROUTER), over CURVE.
# Every ZeroMQ message is one Envelope. See schemas/PROTOCOL.md.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("sb::wire");

const protocolVersion :UInt32 = 1;

# Codes and roles are enums (fields added in version 1 without a version change). Each message
# that carries one still writes the same word in the Text field it had before (`roleName`,
# `codeName`), so that a peer built before the enums existed reads it; a reader takes the enum
# when it is set and the text when it is not (0: an older peer sent only the text). An unknown
# value in either is a malformed message. See schemas/PROTOCOL.md, "Codes and roles".

enum Role {
  unspecified @0;       # not set: read `roleName`
  partner @1;
  maintainer @2;
}

# Why the broker refused a session message (Refusal.code).
enum RefusalCode {
  unspecified @0;       # not set: read `codeName`
  version @1;           # another protocol version (final)
  revoked @2;           # the organization is not enrolled, or was revoked (final)
  helloFirst @3;        # no session on this connection: send Hello
  malformed @4;         # the message did not decode or broke a limit
  unavailable @5;       # the broker could not do it now (a store failure); retry
  replica @6;           # the replica id belongs to another organization (final)
  cursor @7;            # the Hello's cursor is ahead of the broker's log
  failed @8;            # the broker failed handling the message
  unexpected @9;        # a message a broker does not accept
}

# Why the broker refused a referral post (ReferralPostAck.code).
enum PostRefusalCode {
  none @0;              # accepted (or not set: read `codeName`)
  malformed @1;
  sender @2;            # the referral's sender is not the organization that posted it
  signature @3;
  unknownRecipient @4;
  unavailable @5;       # not saved: post it again
  duplicateId @6;
  actor @7;             # the step's actor is not the organization that posted it
  unknownReferral @8;
  party @9;             # this party may not take this step
  state @10;            # the step does not follow from the referral's state
  reason @11;           # a decline without a valid reason
  clock @12;            # dated in the future
  consent @13;
  tooLarge @14;
  expired @15;
  quota @16;            # too many of the sender's referrals to this recipient are unanswered
}

struct SignedDelta {
  delta @0 :Data;       # an encoded delta (schemas/FORMATS.md, tag D)
  author @1 :Text;      # the organization that wrote it
  signer @2 :Text;      # whose Ed25519 key made `signature`: the author, or "broker" for a copy
                        # the broker filtered by audience
  signature @3 :Data;   # 64 bytes over `delta`
}

struct Hello {
  protocolVersion @0 :UInt32;
  replica @1 :UInt64;   # the agent's replica id (bound to its organization on first use)
  cursor @2 :UInt64;    # the last broker log sequence the agent has applied (0: none)
  credits @3 :UInt32;   # the window: log entries the broker may have in flight past `cursor`
  referralCursor @4 :UInt64;  # the last referral version the agent has durably applied
  windowBytes @5 :UInt32;     # and the bytes it may have in flight (0: the broker's default)
  resume @6 :Bool;      # true: a repeat on the same connection (the Welcome was slow); the
                        # broker keeps streaming where it is instead of starting over
  hasRoster @7 :Bool;   # with resume: the agent has this session's whole roster, so the
                        # broker sends only what changed since (a stall's resume at 10,000
                        # agents must not cost a whole roster each); false: send it whole
  preKey @8 :SignedPreKey;  # the agent's current referral pre-key (absent: none), which the
                            # broker keeps in its roster and sends to every agent
  logEpoch @9 :UInt64;  # the epoch of the broker's log `cursor` counts in (0: none known); a
                        # broker whose log has another epoch (it was restored from a backup)
                        # starts the session from 0 (store/backup.h)
  ownEntries @10 :Bool; # true: send this replica's own log entries whole, not as positions
                        # only (an agent restored from a backup lacks its later writes)
}

# A short-lived X25519 key referrals to an organization are sealed to (forward secrecy: the
# organization destroys its secret after rotation and a grace period), signed by the
# organization's Ed25519 key over "sb-prekey-v1\0" + org + "\0" + id (8 bytes, big-endian) + key.
struct SignedPreKey {
  id @0 :UInt64;           # increases with each rotation; 0: none
  key @1 :Data;            # 32 bytes
  signature @2 :Data;      # 64 bytes
}

struct Welcome {
  protocolVersion @0 :UInt32;
  org @1 :Text;         # the organization the broker authenticated (from the CURVE key)
  roleName @2 :Text;    # partner | maintainer: `role` as text, for peers without the enum
  logHead @3 :UInt64;   # the broker's last log sequence
  snapshot @4 :Bool;    # true: a checkpoint (snapshot chunks) follows, then the log after it
  resumed @5 :Bool;     # true: the session went on (entries already sent still arrive)
  role @6 :Role;
  logEpoch @7 :UInt64;  # the epoch of this broker's log: an agent that synced with another
                        # epoch rejoins (re-sends what it wrote; store/backup.h)
  brokerMs @8 :UInt64;  # the broker's wall clock (ms since the epoch) as it sent this; 0:
                        # unknown. Agents measure their clock's skew from it (sync_session.h).
}

struct Refusal {
  codeName @0 :Text;    # `code` as text (version | revoked | hello_first | ...), for peers
                        # without the enum: a version refusal must reach every older agent
  message @1 :Text;
  code @2 :RefusalCode;
}

struct PushItem {
  outboxSeq @0 :UInt64;
  delta @1 :SignedDelta;
}

struct Push {
  batch @0 :UInt64;
  items @1 :List(PushItem);
}

struct PushResult {
  outboxSeq @0 :UInt64;
  accepted @1 :Bool;
  reason @2 :Text;      # why it was refused
  logSeq @3 :UInt64;    # accepted: where it was logged; refused: the log position `current`
                        # reflects (the agent replays the log from there)
  current @4 :Data;     # refused: the broker's state of the records it touched, as an encoded
                        # delta filtered for this agent, so the agent can take the edit back
}

struct PushAck {
  batch @0 :UInt64;
  results @1 :List(PushResult);
}

struct LogEntry {
  seq @0 :UInt64;
  delta @1 :SignedDelta;  # empty delta bytes: nothing of the entry is visible to this agent
}

struct Updates {
  entries @0 :List(LogEntry);
  head @1 :UInt64;
}

struct Credit {
  credits @0 :UInt32;   # the window in entries from now on (0: unchanged)
  cursor @1 :UInt64;    # the last sequence the agent has durably applied
  rewind @2 :Bool;      # true: the agent dropped what came after `cursor` (a gap, or it took
                        # a refused edit back to an older state): send again from cursor + 1
  chunks @3 :UInt32;    # checkpoint chunks of the current checkpoint applied so far
}

struct SnapshotChunk {
  snapshot @0 :UInt64;  # an id for this snapshot
  index @1 :UInt32;
  last @2 :Bool;
  logSeq @3 :UInt64;    # the log position the snapshot reflects; updates continue after it
  records @4 :Data;     # an encoded delta (tag D) holding whole record states, filtered
  signature @5 :Data;   # the broker's Ed25519 signature over `records`
}

struct RosterEntry {
  org @0 :Text;
  roleName @1 :Text;    # `role` as text, for peers without the enum
  signKey @2 :Data;     # Ed25519 public key (32 bytes)
  boxKey @3 :Data;      # X25519 public key for referrals (32 bytes)
  revoked @4 :Bool;
  role @5 :Role;
  retiredSignKeys @6 :List(Data);  # the organization's earlier Ed25519 keys (replaced by
                                   # `enroll rekey`), newest first, at most 16: log entries
                                   # they signed while they were current still verify
  preKey @7 :SignedPreKey;         # its current referral pre-key, as its agent published it
                                   # (each agent checks the signature itself)
}

struct Roster {
  entries @0 :List(RosterEntry);
  # A large roster comes in parts (a few hundred entries each, so that no peer's copy of it is
  # large): `part` counts from 0 and `more` says that another part follows. An agent puts the
  # parts together and takes the roster when a part without `more` arrives.
  part @1 :UInt32;
  more @2 :Bool;
  # A roster with `changes` set holds only the members enrolled, re-keyed or revoked since the
  # last roster this session was sent (the whole roster comes first in every session, and again
  # on every Hello); the agent merges each part into the roster it has. With thousands of
  # members, one enrollment then costs one entry per session, not the whole roster.
  changes @3 :Bool;
}

# ---- Referral handoffs (schemas/PROTOCOL.md, "Referrals"; DESIGN.md §7) ----

# What the sender signs (the bytes of a ReferralBody message are signed as they are; the
# broker stores and forwards them unchanged). The payload is sealed: only the recipient can
# read it.
struct ReferralBody {
  id @0 :Text;             # UUID, made by the sender
  sender @1 :Text;         # organization ids
  recipient @2 :Text;
  service @3 :Text;        # optional service record id
  urgency @4 :Text;        # emergency | urgent | routine
  createdMs @5 :UInt64;
  expiresMs @6 :UInt64;    # after this the broker sends `expired` unless it was answered
  consentScope @7 :Text;   # consent was obtained: for what (empty when sealed),
  consentAtMs @8 :UInt64;  # when (always in clear: the broker orders the lifecycle by it),
  consentBy @9 :Text;      # and by whom, the advocate (empty when sealed)
  nonce @10 :Data;         # 24 bytes
  ciphertext @11 :Data;    # XChaCha20-Poly1305 of the payload JSON under the referral's own
                           # data key; associated data: id, sender, recipient
  keyNonce @12 :Data;      # 24 bytes
  sealedKey @13 :Data;     # crypto_box(data key), sender's X25519 key -> recipient's
  consentNonce @14 :Data;  # 24 bytes
  preKeyId @16 :UInt64;    # not 0: sealedKey is crypto_box_seal(data key) to the recipient's
                           # pre-key with this id (an ephemeral sender key: neither party's
                           # long-term key opens it), and keyNonce is empty
  consentSealed @15 :Data; # XChaCha20-Poly1305 of {"scope", "by"} under the data key;
                           # associated data: id, sender, recipient, "consent". Agents since
                           # issue 14 always seal: only the recipient reads the scope.
}

# One lifecycle step, signed by whoever made it (an organization, or the broker for expiry).
struct TransitionBody {
  referral @0 :Text;
  action @1 :Text;         # deliver | accept | decline | start | complete | cancel | expire
  actor @2 :Text;          # organization id, or "broker"
  atMs @3 :UInt64;
  reason @4 :Text;         # decline: why (no personal data: it is visible to the broker)
}

struct Collected {
  # Broker -> agent: records the broker deleted and collected (tombstone collection, README
  # "Tombstone collection"). Every write to them is at or below a log position every live agent
  # acknowledged; the agent drops each record and its history unless its outbox still holds an
  # edit of it (that edit is refused by the broker and taken back first).
  ids @0 :List(Text);   # record ids, at most 4096 per message
}

struct Signed {
  body @0 :Data;           # an encoded ReferralBody or TransitionBody envelope
  signature @1 :Data;      # Ed25519 by the body's sender/actor (or the broker)
}

# Agent -> broker: a new referral, or a transition of one.
struct ReferralPost {
  seq @0 :UInt64;          # the agent's queue position, echoed in the ack
  referral @1 :Signed;     # set for a new referral
  transition @2 :Signed;   # set for a transition
}

struct ReferralPostAck {
  seq @0 :UInt64;
  accepted @1 :Bool;
  codeName @2 :Text;       # `code` as text (unknown_recipient | consent | too_large | ...;
                           # empty when accepted), for peers without the enum
  reason @3 :Text;
  code @4 :PostRefusalCode;
}

# Broker -> sender and recipient: a referral's whole state so far. Transitions are listed in
# the broker's order; a later update always extends an earlier one, so updates may arrive in
# any order and more than once.
struct ReferralUpdate {
  version @0 :UInt64;      # broker-wide, increasing; the agent's referral cursor
  id @1 :Text;
  referral @2 :Signed;     # the sealed referral (to the recipient until it has acknowledged
                           # delivery, and to the sender); empty otherwise
  transitions @3 :List(Signed);
}

struct Envelope {
  union {
    hello @0 :Hello;
    welcome @1 :Welcome;
    refusal @2 :Refusal;
    push @3 :Push;
    pushAck @4 :PushAck;
    updates @5 :Updates;
    credit @6 :Credit;
    snapshotChunk @7 :SnapshotChunk;
    roster @8 :Roster;
    referralPost @9 :ReferralPost;
    referralPostAck @10 :ReferralPostAck;
    referralUpdate @11 :ReferralUpdate;
    referralBody @12 :ReferralBody;
    transitionBody @13 :TransitionBody;
    collected @14 :Collected;
  }
}
