#include "transport/protocol.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>
#include <new>
#include <ostream>
#include <type_traits>

#include "base/utf8.h"
#include "schemas/sync.capnp.h"

namespace sb {

const char* RoleName(Role r) {
  return r == Role::kMaintainer ? "maintainer" : "partner";
}

Result<Role> ParseRole(const std::string& s) {
  if (s == "partner") return Role::kPartner;
  if (s == "maintainer") return Role::kMaintainer;
  return Status::InvalidArgument("role must be partner or maintainer, got '" + s + "'");
}

std::ostream& operator<<(std::ostream& os, Role r) {
  return os << RoleName(r);
}

}  // namespace sb

namespace sb::proto {

namespace {

// Each enum's values: the C++ value, the wire value and the word (the text field older peers
// read). Wire value 0 is "not set" in every wire enum and has no row (but kNone's).
template <typename Cpp, typename Wire>
struct EnumRow {
  Cpp cpp;
  Wire wire;
  const char* name;
};

constexpr EnumRow<Role, wire::Role> kRoles[] = {
    {Role::kPartner, wire::Role::PARTNER, "partner"},
    {Role::kMaintainer, wire::Role::MAINTAINER, "maintainer"},
};

constexpr EnumRow<RefusalCode, wire::RefusalCode> kRefusalCodes[] = {
    {RefusalCode::kVersion, wire::RefusalCode::VERSION, "version"},
    {RefusalCode::kRevoked, wire::RefusalCode::REVOKED, "revoked"},
    {RefusalCode::kHelloFirst, wire::RefusalCode::HELLO_FIRST, "hello_first"},
    {RefusalCode::kMalformed, wire::RefusalCode::MALFORMED, "malformed"},
    {RefusalCode::kUnavailable, wire::RefusalCode::UNAVAILABLE, "unavailable"},
    {RefusalCode::kReplica, wire::RefusalCode::REPLICA, "replica"},
    {RefusalCode::kCursor, wire::RefusalCode::CURSOR, "cursor"},
    {RefusalCode::kFailed, wire::RefusalCode::FAILED, "failed"},
    {RefusalCode::kUnexpected, wire::RefusalCode::UNEXPECTED, "unexpected"},
};

constexpr EnumRow<PostRefusalCode, wire::PostRefusalCode> kPostRefusalCodes[] = {
    {PostRefusalCode::kNone, wire::PostRefusalCode::NONE, ""},
    {PostRefusalCode::kMalformed, wire::PostRefusalCode::MALFORMED, "malformed"},
    {PostRefusalCode::kSender, wire::PostRefusalCode::SENDER, "sender"},
    {PostRefusalCode::kSignature, wire::PostRefusalCode::SIGNATURE, "signature"},
    {PostRefusalCode::kUnknownRecipient, wire::PostRefusalCode::UNKNOWN_RECIPIENT,
     "unknown_recipient"},
    {PostRefusalCode::kUnavailable, wire::PostRefusalCode::UNAVAILABLE, "unavailable"},
    {PostRefusalCode::kDuplicateId, wire::PostRefusalCode::DUPLICATE_ID, "duplicate_id"},
    {PostRefusalCode::kActor, wire::PostRefusalCode::ACTOR, "actor"},
    {PostRefusalCode::kUnknownReferral, wire::PostRefusalCode::UNKNOWN_REFERRAL,
     "unknown_referral"},
    {PostRefusalCode::kParty, wire::PostRefusalCode::PARTY, "party"},
    {PostRefusalCode::kState, wire::PostRefusalCode::STATE, "state"},
    {PostRefusalCode::kReason, wire::PostRefusalCode::REASON, "reason"},
    {PostRefusalCode::kClock, wire::PostRefusalCode::CLOCK, "clock"},
    {PostRefusalCode::kConsent, wire::PostRefusalCode::CONSENT, "consent"},
    {PostRefusalCode::kTooLarge, wire::PostRefusalCode::TOO_LARGE, "too_large"},
    {PostRefusalCode::kExpired, wire::PostRefusalCode::EXPIRED, "expired"},
    {PostRefusalCode::kQuota, wire::PostRefusalCode::QUOTA, "quota"},
};

template <typename Cpp, typename Wire, size_t N>
const EnumRow<Cpp, Wire>& RowOf(const EnumRow<Cpp, Wire> (&rows)[N], Cpp c) {
  for (const auto& row : rows) {
    if (row.cpp == c) return row;
  }
  return rows[0];  // unreachable: every value has a row (protocol_test checks)
}

}  // namespace

const char* Name(RefusalCode c) {
  return RowOf(kRefusalCodes, c).name;
}

const char* Name(PostRefusalCode c) {
  return RowOf(kPostRefusalCodes, c).name;
}

std::ostream& operator<<(std::ostream& os, RefusalCode c) {
  return os << Name(c);
}

std::ostream& operator<<(std::ostream& os, PostRefusalCode c) {
  return os << Name(c);
}

namespace {

// Field limits checked on every decoded message (bytes, and list lengths).
constexpr size_t kMaxNameBytes = 128;    // org, author, signer, role, refusal code
constexpr size_t kMaxProseBytes = 4096;  // refusal message, push result reason
constexpr size_t kSignatureBytes = 64;
constexpr size_t kKeyBytes = 32;
constexpr size_t kMaxPushItems = 1024;
constexpr size_t kMaxUpdateEntries = 4096;
constexpr size_t kMaxRosterEntries = 100000;

// A first segment sized for a control message; bulk messages grow more segments.
constexpr unsigned kFirstSegmentWords = 128;

// ---------- encoding ----------

kj::StringPtr TextOf(const std::string& s) {
  return kj::StringPtr(s.c_str(), s.size());
}

// The unsigned explanations a peer sends (refusal message, push and referral-post reasons) are
// often built from what a hostile peer sent; the receiver refuses prose with control characters
// or bad UTF-8 (GetProse), so the sender makes them printable and short enough first.
std::string SafeProse(const std::string& s) {
  if (CheckText(s, "", TextKind::kProse, kMaxProseBytes).ok()) return s;
  return Printable(s, kMaxProseBytes - 8);
}

capnp::Data::Reader DataOf(const std::string& s) {
  return capnp::Data::Reader(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

void PutSignedDelta(wire::SignedDelta::Builder b, const SignedDelta& d) {
  b.setDelta(DataOf(d.delta));
  b.setAuthor(TextOf(d.author));
  b.setSigner(TextOf(d.signer));
  b.setSignature(DataOf(d.signature));
}

void PutPreKey(wire::SignedPreKey::Builder b, const SignedPreKey& k) {
  b.setId(k.id);
  b.setKey(DataOf(k.key));
  b.setSignature(DataOf(k.signature));
}

void Put(wire::Envelope::Builder env, const Hello& m) {
  auto b = env.initHello();
  b.setProtocolVersion(m.protocol_version);
  b.setReplica(m.replica);
  b.setCursor(m.cursor);
  b.setCredits(m.credits);
  b.setReferralCursor(m.referral_cursor);
  b.setWindowBytes(m.window_bytes);
  b.setResume(m.resume);
  b.setHasRoster(m.has_roster);
  if (!m.pre_key.empty()) PutPreKey(b.initPreKey(), m.pre_key);
  b.setLogEpoch(m.log_epoch);
  b.setOwnEntries(m.own_entries);
}

void Put(wire::Envelope::Builder env, const Welcome& m) {
  auto b = env.initWelcome();
  b.setProtocolVersion(m.protocol_version);
  b.setOrg(TextOf(m.org));
  b.setRoleName(RoleName(m.role));
  b.setRole(RowOf(kRoles, m.role).wire);
  b.setLogHead(m.log_head);
  b.setSnapshot(m.snapshot);
  b.setResumed(m.resumed);
  b.setLogEpoch(m.log_epoch);
  b.setBrokerMs(m.broker_ms);
}

void Put(wire::Envelope::Builder env, const Refusal& m) {
  auto b = env.initRefusal();
  b.setCodeName(Name(m.code));
  b.setCode(RowOf(kRefusalCodes, m.code).wire);
  std::string message = SafeProse(m.message);
  b.setMessage(TextOf(message));
}

void Put(wire::Envelope::Builder env, const Push& m) {
  auto b = env.initPush();
  b.setBatch(m.batch);
  auto items = b.initItems(static_cast<unsigned>(m.items.size()));
  for (unsigned i = 0; i < m.items.size(); ++i) {
    items[i].setOutboxSeq(m.items[i].outbox_seq);
    PutSignedDelta(items[i].initDelta(), m.items[i].delta);
  }
}

void Put(wire::Envelope::Builder env, const PushAck& m) {
  auto b = env.initPushAck();
  b.setBatch(m.batch);
  auto results = b.initResults(static_cast<unsigned>(m.results.size()));
  for (unsigned i = 0; i < m.results.size(); ++i) {
    const PushResult& r = m.results[i];
    results[i].setOutboxSeq(r.outbox_seq);
    results[i].setAccepted(r.accepted);
    std::string reason = SafeProse(r.reason);
    results[i].setReason(TextOf(reason));
    results[i].setLogSeq(r.log_seq);
    results[i].setCurrent(DataOf(r.current));
  }
}

void Put(wire::Envelope::Builder env, const Updates& m) {
  auto b = env.initUpdates();
  auto entries = b.initEntries(static_cast<unsigned>(m.entries.size()));
  for (unsigned i = 0; i < m.entries.size(); ++i) {
    entries[i].setSeq(m.entries[i].seq);
    PutSignedDelta(entries[i].initDelta(), m.entries[i].delta);
  }
  b.setHead(m.head);
}

void Put(wire::Envelope::Builder env, const Collected& m) {
  auto ids = env.initCollected().initIds(static_cast<unsigned>(m.ids.size()));
  for (unsigned i = 0; i < m.ids.size(); ++i) ids.set(i, m.ids[i]);
}

void Put(wire::Envelope::Builder env, const Credit& m) {
  auto b = env.initCredit();
  b.setCredits(m.credits);
  b.setCursor(m.cursor);
  b.setRewind(m.rewind);
  b.setChunks(m.chunks);
}

void Put(wire::Envelope::Builder env, const SnapshotChunk& m) {
  auto b = env.initSnapshotChunk();
  b.setSnapshot(m.snapshot);
  b.setIndex(m.index);
  b.setLast(m.last);
  b.setLogSeq(m.log_seq);
  b.setRecords(DataOf(m.records));
  b.setSignature(DataOf(m.signature));
}

void Put(wire::Envelope::Builder env, const Roster& m) {
  auto b = env.initRoster();
  auto entries = b.initEntries(static_cast<unsigned>(m.entries.size()));
  for (unsigned i = 0; i < m.entries.size(); ++i) {
    const RosterEntry& e = m.entries[i];
    entries[i].setOrg(TextOf(e.org));
    entries[i].setRoleName(RoleName(e.role));
    entries[i].setRole(RowOf(kRoles, e.role).wire);
    entries[i].setSignKey(DataOf(e.sign_key));
    entries[i].setBoxKey(DataOf(e.box_key));
    entries[i].setRevoked(e.revoked);
    if (!e.pre_key.empty()) PutPreKey(entries[i].initPreKey(), e.pre_key);
    auto retired =
        entries[i].initRetiredSignKeys(static_cast<unsigned>(e.retired_sign_keys.size()));
    for (unsigned k = 0; k < e.retired_sign_keys.size(); ++k) {
      retired.set(k, DataOf(e.retired_sign_keys[k]));
    }
  }
  b.setPart(m.part);
  b.setMore(m.more);
  b.setChanges(m.changes);
}

void PutSigned(wire::Signed::Builder b, const Signed& s) {
  b.setBody(DataOf(s.body));
  b.setSignature(DataOf(s.signature));
}

void Put(wire::Envelope::Builder env, const ReferralPost& m) {
  auto b = env.initReferralPost();
  b.setSeq(m.seq);
  PutSigned(b.initReferral(), m.referral);
  PutSigned(b.initTransition(), m.transition);
}

void Put(wire::Envelope::Builder env, const ReferralPostAck& m) {
  auto b = env.initReferralPostAck();
  b.setSeq(m.seq);
  b.setAccepted(m.accepted);
  b.setCodeName(Name(m.code));
  b.setCode(RowOf(kPostRefusalCodes, m.code).wire);
  std::string reason = SafeProse(m.reason);
  b.setReason(TextOf(reason));
}

void Put(wire::Envelope::Builder env, const ReferralUpdate& m) {
  auto b = env.initReferralUpdate();
  b.setVersion(m.version);
  b.setId(TextOf(m.id));
  PutSigned(b.initReferral(), m.referral);
  auto list = b.initTransitions(static_cast<unsigned>(m.transitions.size()));
  for (unsigned i = 0; i < m.transitions.size(); ++i) PutSigned(list[i], m.transitions[i]);
}

void Put(wire::Envelope::Builder env, const ReferralBody& m) {
  auto b = env.initReferralBody();
  b.setId(TextOf(m.id));
  b.setSender(TextOf(m.sender));
  b.setRecipient(TextOf(m.recipient));
  b.setService(TextOf(m.service));
  b.setUrgency(TextOf(m.urgency));
  b.setCreatedMs(m.created_ms);
  b.setExpiresMs(m.expires_ms);
  b.setConsentScope(TextOf(m.consent_scope));
  b.setConsentAtMs(m.consent_at_ms);
  b.setConsentBy(TextOf(m.consent_by));
  b.setNonce(DataOf(m.nonce));
  b.setCiphertext(DataOf(m.ciphertext));
  b.setKeyNonce(DataOf(m.key_nonce));
  b.setSealedKey(DataOf(m.sealed_key));
  b.setPreKeyId(m.pre_key_id);
  b.setConsentNonce(DataOf(m.consent_nonce));
  b.setConsentSealed(DataOf(m.consent_sealed));
}

void Put(wire::Envelope::Builder env, const TransitionBody& m) {
  auto b = env.initTransitionBody();
  b.setReferral(TextOf(m.referral));
  b.setAction(TextOf(m.action));
  b.setActor(TextOf(m.actor));
  b.setAtMs(m.at_ms);
  b.setReason(TextOf(m.reason));
}

// ---------- decoding ----------

// A field that breaks a limit, found after Cap'n Proto accepted the structure.
struct DecodeError {
  std::string what;
};

// Every text of every message is checked here: UTF-8, no control characters (names and
// codes) or only tab and newline (prose people read), and a length limit. A message that
// breaks a rule is refused whole, before any of it is used.
std::string GetText(capnp::Text::Reader t, size_t max, const char* field,
                    TextKind kind = TextKind::kName) {
  std::string_view s(t.cStr(), t.size());
  Status st = CheckText(s, field, kind, max);
  if (!st.ok()) throw DecodeError{st.message()};
  return std::string(s);
}

std::string GetProse(capnp::Text::Reader t, size_t max, const char* field) {
  return GetText(t, max, field, TextKind::kProse);
}

std::string GetData(capnp::Data::Reader d) {
  return std::string(reinterpret_cast<const char*>(d.begin()), d.size());
}

std::string GetSignature(capnp::Data::Reader d, const char* field) {
  if (d.size() != 0 && d.size() != kSignatureBytes) {
    throw DecodeError{std::string(field) + " is " + std::to_string(d.size()) +
                      " bytes (must be 0 or 64)"};
  }
  return GetData(d);
}

std::string GetKey(capnp::Data::Reader d, const char* field) {
  if (d.size() != kKeyBytes) {
    throw DecodeError{std::string(field) + " is " + std::to_string(d.size()) +
                      " bytes (must be 32)"};
  }
  return GetData(d);
}

// A pre-key present on the wire: an id, a 32-byte key and a 64-byte signature.
SignedPreKey GetPreKey(wire::SignedPreKey::Reader r, const std::string& field) {
  SignedPreKey k;
  k.id = r.getId();
  if (k.id == 0) throw DecodeError{field + ".id is 0"};
  k.key = GetKey(r.getKey(), (field + ".key").c_str());
  k.signature = GetData(r.getSignature());
  if (k.signature.size() != 64) throw DecodeError{field + ".signature is not 64 bytes"};
  return k;
}

void CheckCount(size_t n, size_t max, const char* field) {
  if (n > max) {
    throw DecodeError{std::string(field) + " has " + std::to_string(n) + " entries (limit " +
                      std::to_string(max) + ")"};
  }
}

// An enum field and the text written next to it for older peers: the enum when it is set, the
// text when it is not (an older peer). The text is checked either way; an unknown value of
// either is refused.
template <typename Cpp, typename Wire, size_t N>
Cpp GetEnum(const EnumRow<Cpp, Wire> (&rows)[N], Wire w, capnp::Text::Reader text,
            const char* field) {
  std::string name = GetText(text, kMaxNameBytes, field);
  if (static_cast<uint16_t>(w) != 0) {
    for (const auto& row : rows) {
      if (row.wire == w) return row.cpp;
    }
    throw DecodeError{std::string(field) + ": unknown value " +
                      std::to_string(static_cast<uint16_t>(w))};
  }
  for (const auto& row : rows) {
    if (row.name == name) return row.cpp;
  }
  throw DecodeError{std::string(field) + ": unknown value '" + name + "'"};
}

Signed GetSigned(wire::Signed::Reader r, const char* field) {
  Signed s;
  s.body = GetData(r.getBody());
  s.signature = GetSignature(r.getSignature(), field);
  if (s.body.size() > kMaxReferralCiphertextBytes + 64 * 1024) {
    throw DecodeError{std::string(field) + " body is too large"};
  }
  return s;
}

SignedDelta GetSignedDelta(wire::SignedDelta::Reader r) {
  SignedDelta d;
  d.delta = GetData(r.getDelta());
  d.author = GetText(r.getAuthor(), kMaxNameBytes, "author");
  d.signer = GetText(r.getSigner(), kMaxNameBytes, "signer");
  d.signature = GetSignature(r.getSignature(), "signature");
  return d;
}

Message Get(wire::Envelope::Reader env) {
  switch (env.which()) {
    case wire::Envelope::HELLO: {
      auto r = env.getHello();
      Hello h{r.getProtocolVersion(), r.getReplica(),        r.getCursor(),
              r.getCredits(),         r.getReferralCursor(), r.getWindowBytes(),
              r.getResume(),          r.getHasRoster(),      {}};
      if (r.hasPreKey()) h.pre_key = GetPreKey(r.getPreKey(), "hello.pre_key");
      h.log_epoch = r.getLogEpoch();
      h.own_entries = r.getOwnEntries();
      return h;
    }
    case wire::Envelope::WELCOME: {
      auto r = env.getWelcome();
      Welcome m;
      m.protocol_version = r.getProtocolVersion();
      m.org = GetText(r.getOrg(), kMaxNameBytes, "welcome.org");
      m.role = GetEnum(kRoles, r.getRole(), r.getRoleName(), "welcome.role");
      m.log_head = r.getLogHead();
      m.snapshot = r.getSnapshot();
      m.resumed = r.getResumed();
      m.log_epoch = r.getLogEpoch();
      m.broker_ms = r.getBrokerMs();
      return m;
    }
    case wire::Envelope::REFUSAL: {
      auto r = env.getRefusal();
      return Refusal{GetEnum(kRefusalCodes, r.getCode(), r.getCodeName(), "refusal.code"),
                     GetProse(r.getMessage(), kMaxProseBytes, "refusal.message")};
    }
    case wire::Envelope::PUSH: {
      auto r = env.getPush();
      Push m;
      m.batch = r.getBatch();
      auto items = r.getItems();
      CheckCount(items.size(), kMaxPushItems, "push.items");
      m.items.reserve(items.size());
      for (auto item : items) {
        m.items.push_back(PushItem{item.getOutboxSeq(), GetSignedDelta(item.getDelta())});
      }
      return m;
    }
    case wire::Envelope::PUSH_ACK: {
      auto r = env.getPushAck();
      PushAck m;
      m.batch = r.getBatch();
      auto results = r.getResults();
      CheckCount(results.size(), kMaxPushItems, "push_ack.results");
      m.results.reserve(results.size());
      for (auto res : results) {
        PushResult p;
        p.outbox_seq = res.getOutboxSeq();
        p.accepted = res.getAccepted();
        p.reason = GetProse(res.getReason(), kMaxProseBytes, "push_ack.reason");
        p.log_seq = res.getLogSeq();
        p.current = GetData(res.getCurrent());
        m.results.push_back(std::move(p));
      }
      return m;
    }
    case wire::Envelope::UPDATES: {
      auto r = env.getUpdates();
      Updates m;
      auto entries = r.getEntries();
      CheckCount(entries.size(), kMaxUpdateEntries, "updates.entries");
      m.entries.reserve(entries.size());
      for (auto e : entries)
        m.entries.push_back(LogEntry{e.getSeq(), GetSignedDelta(e.getDelta())});
      m.head = r.getHead();
      return m;
    }
    case wire::Envelope::CREDIT: {
      auto r = env.getCredit();
      return Credit{r.getCredits(), r.getCursor(), r.getRewind(), r.getChunks()};
    }
    case wire::Envelope::SNAPSHOT_CHUNK: {
      auto r = env.getSnapshotChunk();
      SnapshotChunk m;
      m.snapshot = r.getSnapshot();
      m.index = r.getIndex();
      m.last = r.getLast();
      m.log_seq = r.getLogSeq();
      m.records = GetData(r.getRecords());
      m.signature = GetSignature(r.getSignature(), "snapshot_chunk.signature");
      return m;
    }
    case wire::Envelope::ROSTER: {
      auto entries = env.getRoster().getEntries();
      CheckCount(entries.size(), kMaxRosterEntries, "roster.entries");
      Roster m;
      m.entries.reserve(entries.size());
      for (auto e : entries) {
        RosterEntry x;
        x.org = GetText(e.getOrg(), kMaxNameBytes, "roster.org");
        x.role = GetEnum(kRoles, e.getRole(), e.getRoleName(), "roster.role");
        x.sign_key = GetKey(e.getSignKey(), "roster.sign_key");
        x.box_key = GetKey(e.getBoxKey(), "roster.box_key");
        x.revoked = e.getRevoked();
        CheckCount(e.getRetiredSignKeys().size(), kMaxRetiredSignKeys, "roster.retired_sign_keys");
        for (auto k : e.getRetiredSignKeys()) {
          x.retired_sign_keys.push_back(GetKey(k, "roster.retired_sign_keys"));
        }
        if (e.hasPreKey()) x.pre_key = GetPreKey(e.getPreKey(), "roster.pre_key");
        m.entries.push_back(std::move(x));
      }
      m.part = env.getRoster().getPart();
      m.more = env.getRoster().getMore();
      m.changes = env.getRoster().getChanges();
      return m;
    }
    case wire::Envelope::REFERRAL_POST: {
      auto r = env.getReferralPost();
      ReferralPost m;
      m.seq = r.getSeq();
      m.referral = GetSigned(r.getReferral(), "referral_post.referral.signature");
      m.transition = GetSigned(r.getTransition(), "referral_post.transition.signature");
      if (m.referral.empty() == m.transition.empty()) {
        throw DecodeError{"referral_post must carry exactly one of referral and transition"};
      }
      return m;
    }
    case wire::Envelope::REFERRAL_POST_ACK: {
      auto r = env.getReferralPostAck();
      return ReferralPostAck{
          r.getSeq(), r.getAccepted(),
          GetEnum(kPostRefusalCodes, r.getCode(), r.getCodeName(), "referral_post_ack.code"),
          GetProse(r.getReason(), kMaxProseBytes, "referral_post_ack.reason")};
    }
    case wire::Envelope::REFERRAL_UPDATE: {
      auto r = env.getReferralUpdate();
      ReferralUpdate m;
      m.version = r.getVersion();
      m.id = GetText(r.getId(), kMaxNameBytes, "referral_update.id");
      m.referral = GetSigned(r.getReferral(), "referral_update.referral.signature");
      auto list = r.getTransitions();
      CheckCount(list.size(), kMaxReferralTransitions, "referral_update.transitions");
      for (auto t : list) m.transitions.push_back(GetSigned(t, "referral_update.transition"));
      return m;
    }
    case wire::Envelope::REFERRAL_BODY: {
      auto r = env.getReferralBody();
      ReferralBody m;
      m.id = GetText(r.getId(), kMaxNameBytes, "referral.id");
      m.sender = GetText(r.getSender(), kMaxNameBytes, "referral.sender");
      m.recipient = GetText(r.getRecipient(), kMaxNameBytes, "referral.recipient");
      m.service = GetText(r.getService(), kMaxNameBytes, "referral.service");
      m.urgency = GetText(r.getUrgency(), kMaxNameBytes, "referral.urgency");
      m.created_ms = r.getCreatedMs();
      m.expires_ms = r.getExpiresMs();
      m.consent_scope = GetProse(r.getConsentScope(), kMaxProseBytes, "referral.consent_scope");
      m.consent_at_ms = r.getConsentAtMs();
      m.consent_by = GetText(r.getConsentBy(), kMaxNameBytes, "referral.consent_by");
      m.nonce = GetData(r.getNonce());
      m.ciphertext = GetData(r.getCiphertext());
      m.key_nonce = GetData(r.getKeyNonce());
      m.sealed_key = GetData(r.getSealedKey());
      m.pre_key_id = r.getPreKeyId();
      m.consent_nonce = GetData(r.getConsentNonce());
      m.consent_sealed = GetData(r.getConsentSealed());
      if (m.consent_nonce.size() > 64 || m.consent_sealed.size() > 16 << 10) {
        throw DecodeError{"referral.consent_sealed is too large"};
      }
      if (m.ciphertext.size() > kMaxReferralCiphertextBytes) {
        throw DecodeError{"referral.ciphertext is " + std::to_string(m.ciphertext.size()) +
                          " bytes (limit " + std::to_string(kMaxReferralCiphertextBytes) + ")"};
      }
      if (m.sealed_key.size() > 256) throw DecodeError{"referral.sealed_key is too large"};
      return m;
    }
    case wire::Envelope::TRANSITION_BODY: {
      auto r = env.getTransitionBody();
      return TransitionBody{GetText(r.getReferral(), kMaxNameBytes, "transition.referral"),
                            GetText(r.getAction(), kMaxNameBytes, "transition.action"),
                            GetText(r.getActor(), kMaxNameBytes, "transition.actor"), r.getAtMs(),
                            GetProse(r.getReason(), kMaxProseBytes, "transition.reason")};
    }
    case wire::Envelope::COLLECTED: {
      auto ids = env.getCollected().getIds();
      CheckCount(ids.size(), kMaxCollectedIds, "collected.ids");
      Collected m;
      m.ids.reserve(ids.size());
      for (auto id : ids) m.ids.push_back(GetText(id, kMaxNameBytes, "collected.ids"));
      return m;
    }
  }
  throw DecodeError{"unknown message type " + std::to_string(static_cast<unsigned>(env.which()))};
}

}  // namespace

const char* MessageName(const Message& m) {
  static constexpr const char* kNames[] = {"hello",         "welcome",           "refusal",
                                           "push",          "push_ack",          "updates",
                                           "credit",        "snapshot_chunk",    "roster",
                                           "referral_post", "referral_post_ack", "referral_update",
                                           "referral_body", "transition_body",   "collected"};
  static_assert(std::size(kNames) == std::variant_size_v<Message>);
  return kNames[m.index()];
}

std::string EncodeEnvelope(const Message& m) {
  capnp::MallocMessageBuilder msg(kFirstSegmentWords);
  auto env = msg.initRoot<wire::Envelope>();
  std::visit([&](const auto& v) { Put(env, v); }, m);
  kj::Array<capnp::word> words = capnp::messageToFlatArray(msg);
  kj::ArrayPtr<const char> bytes = words.asChars();
  return std::string(bytes.begin(), bytes.size());
}

Result<Message> DecodeEnvelope(std::string_view bytes) {
  if (bytes.size() > kMaxMessageBytes) {
    return Status::ResourceExhausted("message of " + std::to_string(bytes.size()) +
                                     " bytes exceeds the limit of " +
                                     std::to_string(kMaxMessageBytes));
  }
  if (bytes.empty()) return Status::Corruption("malformed message: empty");
  if (bytes.size() % sizeof(capnp::word) != 0) {
    return Status::Corruption("malformed message: " + std::to_string(bytes.size()) +
                              " bytes is not a whole number of words");
  }
  try {
    // Copy into word-aligned memory: a ZeroMQ frame has no alignment guarantee.
    kj::Array<capnp::word> words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
    std::memcpy(words.begin(), bytes.data(), bytes.size());
    capnp::ReaderOptions options;
    options.traversalLimitInWords = words.size() * 2 + 64;  // bounds amplification
    options.nestingLimit = 8;
    capnp::FlatArrayMessageReader reader(words.asPtr(), options);
    if (reader.getEnd() != words.end()) {
      return Status::Corruption("malformed message: trailing bytes after the message");
    }
    return Get(reader.getRoot<wire::Envelope>());
  } catch (const kj::Exception& e) {
    return Status::Corruption(std::string("malformed message: ") + e.getDescription().cStr());
  } catch (const DecodeError& e) {
    return Status::Corruption("malformed message: " + e.what);
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory while decoding a message");
  }
}

Result<ReferralBody> DecodeReferralBody(std::string_view bytes) {
  ASSIGN_OR_RETURN(Message m, DecodeEnvelope(bytes));
  auto* b = std::get_if<ReferralBody>(&m);
  if (!b) return Status::Corruption(std::string("expected a referral, got ") + MessageName(m));
  return std::move(*b);
}

Result<TransitionBody> DecodeTransitionBody(std::string_view bytes) {
  ASSIGN_OR_RETURN(Message m, DecodeEnvelope(bytes));
  auto* b = std::get_if<TransitionBody>(&m);
  if (!b) return Status::Corruption(std::string("expected a transition, got ") + MessageName(m));
  return std::move(*b);
}

}  // namespace sb::proto
