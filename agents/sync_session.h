// The agent's side of the sync protocol as a state machine, without sockets: the transport
// (sync_client.h, or the simulator) reports connection events and messages and sends what
// this returns. States: kDisconnected -> (connected) kHelloSent -> (Welcome) kReady; a
// Refusal for version or revocation is final (kRefused) until restart.
//
// Flow control (DESIGN.md §11, issue 15): the Hello names a window — entries and bytes the
// broker may have in flight past the agent's cursor — and after each durable apply the agent
// acknowledges its cursor (Credit). Nothing restarts a session that is making progress:
// - a Hello without a Welcome is repeated with `resume` (the broker carries on; what it sent
//   still arrives), with a growing interval;
// - a gap in the log (an entry past cursor + 1) is dropped and answered with one Credit that
//   asks for everything after the cursor again (`rewind`); so is an entry whose author is not
//   in the roster yet, and taking a refused edit back to an older state;
// - a broker silent for `stall_ms` while the agent is behind is asked to resume, never to
//   start over: a slow broker still has the stream in flight, and a broker that lost the
//   session (or a new connection) starts one at the cursor anyway.
// Every restart, repeat and rewind is logged with its reason and counted (status()).
//
// In kReady it pushes the outbox (one batch in flight), applies Updates durably before
// acknowledging them, and takes refused edits back out of the view (LocalDirectory).
// Clock skew: each Welcome carries the broker's clock, handed to LocalDirectory
// (NoteBrokerClock); while this clock is too far ahead the outbox is held (not pushed) and
// status() says why, so nothing stamped in the future is offered to the broker. Every
// relayed delta's signature is checked: the author's key from the roster, or the broker's
// key for copies the broker projected for an audience. What cannot be used is quarantined.
// Not thread-safe: one thread drives it; status() may be read from others.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "agents/local_directory.h"
#include "agents/referral_book.h"
#include "base/clock.h"
#include "base/mutex.h"
#include "crypto/identity.h"
#include "store/quarantine.h"
#include "transport/protocol.h"

namespace sb {

struct SyncStatus {
  std::string state = "disconnected";  // disconnected | connecting | ready | refused
  std::string org, role;
  uint64_t cursor = 0, broker_head = 0;
  uint64_t outbox_depth = 0;
  uint64_t last_sync_ms = 0;  // last message from the broker
  uint64_t pushed = 0, accepted = 0, refused = 0, applied = 0;
  uint64_t bytes_in = 0;          // bytes of broker messages received
  uint64_t quarantined = 0;       // items set aside by this session
  uint64_t connects = 0;          // handshakes completed
  uint64_t session_restarts = 0;  // Hellos that started the stream over on a live connection
  uint64_t hello_repeats = 0;     // Hellos repeated (resume) while waiting for a Welcome
  uint64_t stalls = 0;            // resumed Hellos after a long silence while behind
  uint64_t rewinds = 0;           // Credits asking for a gap to be sent again
  uint64_t checkpoints = 0;       // checkpoints applied
  uint64_t collected = 0;         // records dropped because the broker collected them
  std::string last_error;
  // This computer's clock minus the broker's (from the Welcome; LocalDirectory), and while it
  // is too far ahead, why edits and pushes wait (ClockAheadMessage); empty otherwise.
  bool clock_skew_known = false;
  int64_t clock_skew_ms = 0;
  std::string clock_ahead;
  uint64_t pushes_held = 0;  // ticks that held the outbox because the clock is ahead
};

class AgentSync {
 public:
  struct Options {
    uint32_t credit_window = 1024;    // entries in flight
    uint32_t window_bytes = 8 << 20;  // bytes in flight
    size_t max_push_items = 128;
    uint64_t resend_after_ms = 10'000;  // re-push when unanswered this long
    uint64_t hello_retry_ms = 1'000;    // repeat a Hello with no Welcome after this (doubling)
    uint64_t hello_retry_max_ms = 30'000;
    uint64_t stall_ms = 30'000;  // behind and nothing from the broker this long: resume
  };

  AgentSync(LocalDirectory* dir, Clock* clock, const Identity& me, std::string broker_sign_public,
            Options options);

  std::vector<std::string> OnConnected();
  void OnDisconnected(const std::string& why = "");
  // A message from the broker. Never throws: what cannot be used (a log entry that does not
  // verify or decode, a snapshot chunk, a referral update) is quarantined with its reason and
  // stepped over, so nothing stored or received can stop the agent or stall its cursor.
  std::vector<std::string> OnMessage(std::string_view bytes);
  // Pushes waiting outbox entries, retries what went unanswered, repeats an unanswered Hello.
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
  // Logs and counts a session event (restart, repeat, rewind) with its reason.
  void Note(const std::string& what, const std::string& why, uint64_t SyncStatus::*counter);
  std::vector<std::string> Handle(const proto::Message& msg);
  std::vector<std::string> OnUpdates(const proto::Updates& u);
  // After OnUpdates failed: the entries one at a time, each that fails quarantined.
  std::vector<std::string> OnUpdatesOneByOne(const proto::Updates& u);
  // Hands a roster (part) to the referral book to keep; notes a failure.
  void SaveRoster(const proto::Roster& r);
  // After a roster that could not be saved: asks for the whole roster again.
  std::vector<std::string> AskAgainIfUnsaved();
  std::vector<std::string> OnSnapshot(const proto::SnapshotChunk& c);
  void OnPushAck(const proto::PushAck& a);
  // Tombstone collection (sync_session_gc.cpp): drops what the broker collected; after a push
  // ack, drops what was kept for an edit the ack settled.
  std::vector<std::string> OnCollected(const proto::Collected& c);
  void RetryCollected();
  // A Hello: `resume` repeats it on this connection; otherwise the stream starts over.
  void ResetStream();
  std::string Hello(bool resume);
  std::string Credit(bool rewind);
  // The broker's log is another one (it was restored from a backup, store/backup.h): the
  // directory rejoins it (cursor 0, what this replica wrote queued again). False on failure.
  bool Rejoin(uint64_t epoch);
  // Asks for everything after the cursor again, once until it comes.
  std::vector<std::string> Rewind(const std::string& why);
  bool Verify(const proto::SignedDelta& sd);
  // Keeps status().role in step with this organization's roster entry.
  void NoteOwnRole(const proto::RosterEntry& e);
  // The role the broker gives this agent: shown in status() and kept durably (LocalDirectory).
  void KeepRole(Role role);
  std::vector<std::string> OnReferralUpdate(const proto::ReferralUpdate& u);
  // Referral posts waiting for the broker, unless they are in flight.
  void PostReferrals(std::vector<std::string>* out);
  // Keeps `bytes` aside with `reason` (and logs it; without a quarantine only logs it).
  void SetAside(const std::string& source, const std::string& ref, const std::string& from,
                const std::string& reason, std::string_view bytes);

  LocalDirectory* dir_;
  Clock* clock_;
  const Identity& me_;
  std::string broker_sign_public_;
  Options options_;

  State state_ = State::kDisconnected;
  uint64_t hello_at_ = 0;
  uint64_t sent_pre_key_id_ = 0;     // the referral pre-key the last Hello published
  uint64_t pre_key_checked_at_ = 0;  // when Tick last looked for a rotated one
  uint64_t hello_wait_ms_ = 0;       // the current interval before a Hello is repeated
  uint64_t batch_counter_ = 0;
  uint64_t in_flight_batch_ = 0;  // 0: none
  uint64_t in_flight_at_ = 0;
  size_t in_flight_items_ = 0;
  uint64_t last_heard_at_ = 0;    // when the broker last sent anything
  bool stalled_ = false;          // asked to resume after a stall, and no entries since
  uint64_t known_head_ = 0;       // the broker's log head as last announced
  bool rewind_pending_ = false;   // a rewind was asked for and has not been answered yet
  uint64_t throttled_until_ = 0;  // the broker left items out (rate limit): wait till then
  uint64_t throttle_backoff_ms_ = 0;
  // The checkpoint being received: its id and the next chunk expected.
  uint64_t checkpoint_id_ = 0;
  uint32_t checkpoint_next_ = 0;
  // org -> Ed25519 public key, from the roster. Revoked organizations stay: their entries
  // in the log were accepted while they were enrolled and must still verify.
  // Each organization's current key first, then the keys `enroll rekey` retired (their
  // entries in the log were signed while they were current).
  std::map<std::string, std::vector<std::string>> sign_keys_;
  std::map<std::string, std::vector<std::string>> roster_parts_;  // a roster arriving in parts
  uint32_t roster_next_part_ = 0;
  bool roster_seen_ = false;       // the roster arrived in this session (it follows Welcome)
  bool roster_unsaved_ = false;    // the referral book could not save a part: ask again
  uint64_t roster_asked_for_ = 0;  // the log entry whose unknown author made us ask for it again
  ReferralBook* referrals_ = nullptr;
  Quarantine* quarantine_ = nullptr;
  uint64_t referral_posted_at_ = 0;    // when the in-flight referral posts went out
  uint64_t referral_last_posted_ = 0;  // the highest queue seq among them (0: none in flight)
  bool holding_ = false;               // pushes held because the clock is ahead (logged once)

  mutable Mutex status_mu_;  // guards status_
  SyncStatus status_ GUARDED_BY(status_mu_);
};

}  // namespace sb
