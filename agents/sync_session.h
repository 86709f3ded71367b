// The agent's side of the sync protocol as a state machine, without sockets: the transport
// (sync_client.h, or the simulator) reports connection events and messages and sends what
// this returns. States: kDisconnected -> (connected) kHelloSent -> (Welcome) kReady; a
// Refusal for version or revocation is final (kRefused) until restart.
//
// In kReady it pushes the outbox (one batch in flight), applies Updates durably before
// granting more credit, and takes refused edits back out of the view (LocalDirectory).
// Every relayed delta's signature is checked: the author's key from the roster, or the
// broker's key for copies the broker filtered by audience. An entry whose author is not in
// the roster yet (the roster was lost or overtaken) stops the stream before that entry and
// starts the session over; the cursor never steps over an entry it could not apply.
// Not thread-safe: one thread drives it; status() may be read from others.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "agents/local_directory.h"
#include "agents/referral_book.h"
#include "schemas/clock.h"
#include "store/quarantine.h"
#include "transport/identity.h"
#include "transport/protocol.h"

namespace sb {

struct SyncStatus {
  std::string state = "disconnected";  // disconnected | connecting | ready | refused
  std::string org, role;
  uint64_t cursor = 0, broker_head = 0;
  uint64_t outbox_depth = 0;
  uint64_t last_sync_ms = 0;  // last message from the broker
  uint64_t pushed = 0, accepted = 0, refused = 0, applied = 0;
  uint64_t bytes_in = 0;  // bytes of broker messages received
  uint64_t quarantined = 0;  // items set aside by this session
  std::string last_error;
};

class AgentSync {
 public:
  struct Options {
    uint32_t credit_window = 1024;
    size_t max_push_items = 128;
    uint64_t resend_after_ms = 10'000;  // re-push when unanswered this long
    uint64_t hello_retry_ms = 1'000;    // re-hello when no Welcome came this long
  };

  AgentSync(LocalDirectory* dir, Clock* clock, const Identity& me,
            std::string broker_sign_public, Options options);

  std::vector<std::string> OnConnected();
  void OnDisconnected(const std::string& why = "");
  // A message from the broker. Never throws: what cannot be used (a log entry that does not
  // verify or decode, a snapshot chunk, a referral update) is quarantined with its reason and
  // stepped over, so nothing stored or received can stop the agent or stall its cursor.
  std::vector<std::string> OnMessage(std::string_view bytes);
  // Pushes waiting outbox entries and retries what went unanswered.
  std::vector<std::string> Tick();

  SyncStatus status() const;
  bool ready() const { return state_ == State::kReady; }
  // Carries referrals too (optional; not owned). Set before connecting.
  void set_referrals(ReferralBook* book) { referrals_ = book; }
  // Keeps what cannot be used (optional; not owned). Set before connecting.
  void set_quarantine(Quarantine* q) { quarantine_ = q; }

 private:
  enum class State { kDisconnected, kHelloSent, kReady, kRefused };
  void SetState(State s);
  void Error(const std::string& e);
  std::vector<std::string> Handle(const proto::Message& msg);
  std::vector<std::string> OnUpdates(const proto::Updates& u);
  // After OnUpdates failed: the entries one at a time, each that fails quarantined.
  std::vector<std::string> OnUpdatesOneByOne(const proto::Updates& u);
  // Keeps `bytes` aside with `reason` (and logs it; without a quarantine only logs it).
  void SetAside(const std::string& source, const std::string& ref, const std::string& from,
                const std::string& reason, std::string_view bytes);
  std::vector<std::string> OnSnapshot(const proto::SnapshotChunk& c);
  void OnPushAck(const proto::PushAck& a);
  std::string Hello();
  bool Verify(const proto::SignedDelta& sd);
  std::vector<std::string> OnReferralUpdate(const proto::ReferralUpdate& u);
  // Referral posts waiting for the broker, unless they are in flight.
  void PostReferrals(std::vector<std::string>* out);

  LocalDirectory* dir_;
  Clock* clock_;
  const Identity& me_;
  std::string broker_sign_public_;
  Options options_;

  State state_ = State::kDisconnected;
  uint64_t hello_at_ = 0;
  uint64_t batch_counter_ = 0;
  uint64_t in_flight_batch_ = 0;  // 0: none
  uint64_t in_flight_at_ = 0;
  uint64_t in_flight_last_seq_ = 0;
  size_t in_flight_items_ = 0;
  uint64_t last_update_at_ = 0;  // when Updates last came (to notice a stalled stream)
  uint64_t known_head_ = 0;      // the broker's log head as last announced
  uint64_t throttled_until_ = 0;  // the broker left items out (rate limit): wait till then
  uint64_t throttle_backoff_ms_ = 0;
  // org -> Ed25519 public key, from the roster. Revoked organizations stay: their entries
  // in the log were accepted while they were enrolled and must still verify.
  std::map<std::string, std::string> sign_keys_;
  bool roster_seen_ = false;  // the roster arrived in this session (it follows Welcome)
  ReferralBook* referrals_ = nullptr;
  Quarantine* quarantine_ = nullptr;
  uint64_t referral_posted_at_ = 0;    // when the in-flight referral posts went out
  uint64_t referral_last_posted_ = 0;  // the highest queue seq among them (0: none in flight)

  mutable std::mutex status_mu_;  // guards status_
  SyncStatus status_;
};

}  // namespace sb
