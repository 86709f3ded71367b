// The sync protocol's messages as plain C++ values (schemas/sync.capnp on the wire), so that
// session logic is written and tested without sockets. DecodeEnvelope treats its input as
// hostile: size check, Cap'n Proto traversal and nesting limits, a catch boundary, and field
// checks; any failure is a Corruption status and no partial message.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"

namespace sb {

// An enrolled organization's role: what it may read and write (DESIGN.md).
enum class Role { kPartner, kMaintainer };
// "partner" | "maintainer": the word on the wire, in the roster store, logs and JSON.
const char* RoleName(Role r);
Result<Role> ParseRole(const std::string& s);
// Prints the word (for test failures and stream logging).
std::ostream& operator<<(std::ostream& os, Role r);

}  // namespace sb

namespace sb::proto {

inline constexpr uint32_t kProtocolVersion = 1;
// Earlier signing keys a roster entry carries at most (RosterEntry::retired_sign_keys).
inline constexpr size_t kMaxRetiredSignKeys = 16;

// Why the broker refused a session message (schemas/sync.capnp, RefusalCode).
enum class RefusalCode {
  kVersion,      // another protocol version (final)
  kRevoked,      // not enrolled, or revoked (final)
  kHelloFirst,   // no session on this connection: send Hello
  kMalformed,    // did not decode, or broke a limit
  kUnavailable,  // not done now (a store failure): retry
  kReplica,      // the replica id belongs to another organization (final)
  kCursor,       // the Hello's cursor is ahead of the broker's log
  kFailed,       // the broker failed handling it
  kUnexpected,   // a message a broker does not accept
};

// Why the broker refused a referral post (schemas/sync.capnp, PostRefusalCode).
enum class PostRefusalCode {
  kNone,  // accepted
  kMalformed,
  kSender,
  kSignature,
  kUnknownRecipient,
  kUnavailable,  // not saved: post it again
  kDuplicateId,
  kActor,
  kUnknownReferral,
  kParty,
  kState,
  kReason,
  kClock,
  kConsent,
  kTooLarge,
  kExpired,
  kQuota,  // too many of the sender's referrals to this recipient are unanswered
};

// The words the codes had as text ("hello_first", "unknown_recipient", "" for kNone): sent
// for older peers, and printed in logs, JSON and the CLI.
const char* Name(RefusalCode c);
const char* Name(PostRefusalCode c);
// Print the words (for test failures and stream logging).
std::ostream& operator<<(std::ostream& os, RefusalCode c);
std::ostream& operator<<(std::ostream& os, PostRefusalCode c);
// Largest envelope accepted (also ZMQ_MAXMSGSIZE on every socket).
inline constexpr size_t kMaxMessageBytes = 16 << 20;

struct SignedDelta {
  std::string delta;      // EncodeDelta bytes; empty: filtered out entirely
  std::string author;     // organization id
  std::string signer;     // author org id, or "broker"
  std::string signature;  // 64 bytes
  friend bool operator==(const SignedDelta&, const SignedDelta&) = default;
};

// A referral pre-key (sync.capnp SignedPreKey); id 0: none.
struct SignedPreKey {
  uint64_t id = 0;
  std::string key;        // 32 bytes
  std::string signature;  // 64 bytes
  bool empty() const { return id == 0; }
  friend bool operator==(const SignedPreKey&, const SignedPreKey&) = default;
};

struct Hello {
  uint32_t protocol_version = kProtocolVersion;
  uint64_t replica = 0;
  uint64_t cursor = 0;
  uint32_t credits = 0;  // window in entries
  uint64_t referral_cursor = 0;
  uint32_t window_bytes = 0;
  bool resume = false;
  bool has_roster = false;    // with resume: only roster changes are needed
  SignedPreKey pre_key = {};  // none: id 0
  uint64_t log_epoch = 0;     // the broker log epoch `cursor` counts in (0: none known)
  bool own_entries = false;   // send this replica's own entries whole (restored agent)
  friend bool operator==(const Hello&, const Hello&) = default;
};

struct Welcome {
  uint32_t protocol_version = kProtocolVersion;
  std::string org;
  Role role = Role::kPartner;
  uint64_t log_head = 0;
  bool snapshot = false;
  bool resumed = false;
  uint64_t log_epoch = 0;  // the broker's log epoch (store/backup.h)
  uint64_t broker_ms = 0;  // the broker's wall clock as it sent this (0: unknown)
  friend bool operator==(const Welcome&, const Welcome&) = default;
};

struct Refusal {
  RefusalCode code = RefusalCode::kFailed;
  std::string message;
  friend bool operator==(const Refusal&, const Refusal&) = default;
};

struct PushItem {
  uint64_t outbox_seq = 0;
  SignedDelta delta;
  friend bool operator==(const PushItem&, const PushItem&) = default;
};

struct Push {
  uint64_t batch = 0;
  std::vector<PushItem> items;
  friend bool operator==(const Push&, const Push&) = default;
};

struct PushResult {
  uint64_t outbox_seq = 0;
  bool accepted = false;
  std::string reason;
  uint64_t log_seq = 0;
  std::string current;  // encoded delta (refusals only)
  friend bool operator==(const PushResult&, const PushResult&) = default;
};

struct PushAck {
  uint64_t batch = 0;
  std::vector<PushResult> results;
  friend bool operator==(const PushAck&, const PushAck&) = default;
};

struct LogEntry {
  uint64_t seq = 0;
  SignedDelta delta;
  friend bool operator==(const LogEntry&, const LogEntry&) = default;
};

struct Updates {
  std::vector<LogEntry> entries;
  uint64_t head = 0;
  friend bool operator==(const Updates&, const Updates&) = default;
};

struct Credit {
  uint32_t credits = 0;  // the window from now on (0: unchanged)
  uint64_t cursor = 0;
  bool rewind = false;
  uint32_t chunks = 0;
  friend bool operator==(const Credit&, const Credit&) = default;
};

struct SnapshotChunk {
  uint64_t snapshot = 0;
  uint32_t index = 0;
  bool last = false;
  uint64_t log_seq = 0;
  std::string records;    // EncodeDelta bytes
  std::string signature;  // broker's, over `records`
  friend bool operator==(const SnapshotChunk&, const SnapshotChunk&) = default;
};

// Records the broker collected (deleted, and every write to them acknowledged by every live
// agent): the agent drops them (schemas/sync.capnp Collected).
struct Collected {
  std::vector<std::string> ids;  // at most kMaxCollectedIds
  friend bool operator==(const Collected&, const Collected&) = default;
};
inline constexpr size_t kMaxCollectedIds = 4096;

struct RosterEntry {
  std::string org;
  Role role = Role::kPartner;
  std::string sign_key;  // 32 bytes
  std::string box_key;   // 32 bytes
  bool revoked = false;
  std::vector<std::string> retired_sign_keys;  // 32 bytes each, newest first
  SignedPreKey pre_key = {};                   // none: id 0
  friend bool operator==(const RosterEntry&, const RosterEntry&) = default;
};

struct Roster {
  std::vector<RosterEntry> entries;
  uint32_t part = 0;     // parts of one roster count from 0
  bool more = false;     // another part follows
  bool changes = false;  // only the members that changed since the last roster this session sent
  friend bool operator==(const Roster&, const Roster&) = default;
};

// ---- Referrals (DESIGN.md §7) ----

inline constexpr size_t kMaxReferralCiphertextBytes = 256 << 10;
inline constexpr size_t kMaxReferralTransitions = 64;

struct Signed {
  std::string body;       // EncodeEnvelope bytes of a ReferralBody or TransitionBody
  std::string signature;  // 64 bytes
  bool empty() const { return body.empty(); }
  friend bool operator==(const Signed&, const Signed&) = default;
};

struct ReferralBody {
  std::string id, sender, recipient, service, urgency;
  uint64_t created_ms = 0, expires_ms = 0;
  std::string consent_scope;
  uint64_t consent_at_ms = 0;
  std::string consent_by;
  std::string nonce, ciphertext, key_nonce, sealed_key;
  // The consent's scope and advocate, sealed (sealed.h SealConsent): then consent_scope and
  // consent_by are empty on the wire.
  std::string consent_nonce, consent_sealed;
  uint64_t pre_key_id = 0;  // not 0: sealed_key is a sealed box to the recipient's pre-key
  friend bool operator==(const ReferralBody&, const ReferralBody&) = default;
};

struct TransitionBody {
  std::string referral, action, actor;
  uint64_t at_ms = 0;
  std::string reason;
  friend bool operator==(const TransitionBody&, const TransitionBody&) = default;
};

struct ReferralPost {
  uint64_t seq = 0;
  Signed referral;    // a new referral, or
  Signed transition;  // a transition
  friend bool operator==(const ReferralPost&, const ReferralPost&) = default;
};

struct ReferralPostAck {
  uint64_t seq = 0;
  bool accepted = false;
  PostRefusalCode code = PostRefusalCode::kNone;
  std::string reason;
  friend bool operator==(const ReferralPostAck&, const ReferralPostAck&) = default;
};

struct ReferralUpdate {
  uint64_t version = 0;
  std::string id;
  Signed referral;  // may be empty (the recipient already has it)
  std::vector<Signed> transitions;
  friend bool operator==(const ReferralUpdate&, const ReferralUpdate&) = default;
};

using Message = std::variant<Hello, Welcome, Refusal, Push, PushAck, Updates, Credit, SnapshotChunk,
                             Roster, ReferralPost, ReferralPostAck, ReferralUpdate, ReferralBody,
                             TransitionBody, Collected>;

// "hello", "welcome", ... for logs.
const char* MessageName(const Message& m);

std::string EncodeEnvelope(const Message& m);
Result<Message> DecodeEnvelope(std::string_view bytes);

// A signed body's contents: Corruption unless `bytes` is an envelope of exactly that kind.
Result<ReferralBody> DecodeReferralBody(std::string_view bytes);
Result<TransitionBody> DecodeTransitionBody(std::string_view bytes);

}  // namespace sb::proto
