// The simulators' one network: messages between numbered nodes, delivered on simulated time,
// which it loses, duplicates and delays at random (from the caller's seeded Rng), cuts across
// a partition, and loses when an end crashes. Both simulators use it: the CRDT simulator
// (nodes are replicas) and the protocol simulator (nodes are the agents' connections and the
// broker). Tests that drive sans-IO cores can use it the same way.
//
// Determinism: the draws for one Send are, in this order, drop?, delay (with reorder),
// duplicate?, the duplicate's delay; none for a message cut by a partition or a crash. A
// seed's run depends on that order: do not change it. Not thread-safe.
#pragma once

#include "sim/sim_random.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <queue>
#include <tuple>
#include <utility>
#include <vector>

namespace sb::sim {

inline constexpr uint64_t kLatencyMs = 25;     // one-way delay when order is preserved
inline constexpr uint64_t kMaxJitterMs = 300;  // random delay with reorder, and of duplicates

struct NetworkFaults {
  double drop = 0.0;     // probability that a message is lost
  double dup = 0.0;      // probability that a message is delivered twice
  bool reorder = false;  // random delays (1..kMaxJitterMs) rather than kLatencyMs
};

struct NetworkStats {
  uint64_t sent = 0;
  uint64_t bytes = 0;       // of the messages sent while both ends were up
  uint64_t delivered = 0;   // including duplicates
  uint64_t dropped = 0;     // lost at random
  uint64_t cut = 0;         // lost to a partition or a crash, when sent or when due
  uint64_t duplicated = 0;  // delivered twice
};

// The fate of messages, apart from what they carry (network.cpp).
class Links {
 public:
  Links(size_t nodes, const NetworkFaults& faults, Rng& rng);

  // When a message sent now falls due, and its duplicate if any; nullopt when it is lost
  // (counted).
  struct Schedule {
    uint64_t at = 0;
    std::optional<uint64_t> duplicate_at;
  };
  std::optional<Schedule> OnSend(size_t from, size_t to, size_t bytes, uint64_t now);
  // Whether a message sent when its ends had these lives may be delivered now (counted).
  bool OnDue(size_t from, size_t to, uint64_t from_life, uint64_t to_life);

  uint64_t life(size_t node) const { return life_[node]; }
  bool up(size_t node) const { return up_[node]; }
  bool Reachable(size_t a, size_t b) const { return side_.empty() || side_[a] == side_[b]; }
  void Partition(std::vector<uint8_t> side) { side_ = std::move(side); }
  void Crash(size_t node);
  void Recover(size_t node) { up_[node] = true; }
  void StopDropping() { faults_.drop = 0; }
  const NetworkStats& stats() const { return stats_; }

 private:
  NetworkFaults faults_;
  Rng& rng_;
  NetworkStats stats_;
  std::vector<uint8_t> side_;  // empty: no partition
  std::vector<bool> up_;
  std::vector<uint64_t> life_;  // bumped by each crash
};

// Messages carrying a Payload (copied for a duplicate: make it cheap to copy) between `nodes`
// nodes, numbered from 0. `rng` must outlive the network.
template <typename Payload>
class Network {
 public:
  struct Message {
    uint64_t deliver_at = 0;
    uint64_t seq = 0;  // send order: breaks ties, so the delivery order is total
    size_t from = 0, to = 0;
    Payload payload;
    uint64_t from_life = 0, to_life = 0;
  };

  Network(size_t nodes, const NetworkFaults& faults, Rng& rng) : links_(nodes, faults, rng) {}

  // Sends `payload` (`bytes` long, for the count) now. Lost at once when an end is down or a
  // partition separates them, or at random.
  void Send(size_t from, size_t to, Payload payload, size_t bytes, uint64_t now) {
    std::optional<Links::Schedule> s = links_.OnSend(from, to, bytes, now);
    if (!s) return;
    if (s->duplicate_at) Push(from, to, payload, *s->duplicate_at);
    Push(from, to, std::move(payload), s->at);
  }

  // The next message due by `now`; those cut since they were sent (a partition now separates
  // their ends, or an end crashed) are counted and skipped.
  std::optional<Message> PopDue(uint64_t now) {
    while (!queue_.empty() && queue_.top().deliver_at <= now) {
      Message m = queue_.top();
      queue_.pop();
      if (links_.OnDue(m.from, m.to, m.from_life, m.to_life)) return m;
    }
    return std::nullopt;
  }

  bool idle() const { return queue_.empty(); }
  size_t in_flight() const { return queue_.size(); }
  uint64_t next_due() const { return queue_.top().deliver_at; }  // precondition: !idle()

  // side[i] is node i's side of a partition; empty heals it.
  void Partition(std::vector<uint8_t> side) { links_.Partition(std::move(side)); }
  bool Reachable(size_t a, size_t b) const { return links_.Reachable(a, b); }
  // The node crashed, or its connection broke: what is in flight to or from it is lost, and
  // so is what is sent to or from it until Recover.
  void Crash(size_t node) { links_.Crash(node); }
  void Recover(size_t node) { links_.Recover(node); }
  bool up(size_t node) const { return links_.up(node); }
  // From now on, no message is lost at random (partitions and crashes still cut).
  void StopDropping() { links_.StopDropping(); }
  const NetworkStats& stats() const { return links_.stats(); }

 private:
  struct DeliverLater {
    bool operator()(const Message& a, const Message& b) const {
      return std::tie(a.deliver_at, a.seq) > std::tie(b.deliver_at, b.seq);
    }
  };

  void Push(size_t from, size_t to, Payload payload, uint64_t at) {
    queue_.push(
        Message{at, next_seq_++, from, to, std::move(payload), links_.life(from), links_.life(to)});
  }

  Links links_;
  std::priority_queue<Message, std::vector<Message>, DeliverLater> queue_;
  uint64_t next_seq_ = 0;
};

// A partition episode: from operation start_op until end_op, the nodes in `group` (sorted)
// cannot reach the others.
struct PartitionEpisode {
  uint64_t start_op = 0, end_op = 0;
  std::vector<size_t> group;

  // Sides for Network::Partition: 1 for the group, 0 for the rest of `nodes`.
  std::vector<uint8_t> Sides(size_t nodes) const;
};

// Spreads `count` episodes over `ops` operations, one per equal slot, none overlapping; each
// splits `nodes` nodes (shuffled) into a group of 1..nodes-1 and the rest.
std::vector<PartitionEpisode> PlanPartitions(uint64_t ops, int count, size_t nodes, Rng& rng);

// Walks a plan operation by operation.
class PartitionSchedule {
 public:
  explicit PartitionSchedule(std::vector<PartitionEpisode> plan) : plan_(std::move(plan)) {}

  // What changes before operation `op`: the episode that ends (if any), then the one that
  // starts (if any). Call with increasing op.
  struct Step {
    const PartitionEpisode* ended = nullptr;
    const PartitionEpisode* started = nullptr;
    size_t number = 0;  // of the started episode, from 1
  };
  Step At(uint64_t op);

 private:
  std::vector<PartitionEpisode> plan_;
  size_t next_ = 0;
  bool active_ = false;
};

// A crash of one of `victims` nodes (or whatever the caller numbers so) before operation op.
struct PlannedCrash {
  uint64_t op = 0;
  size_t victim = 0;
};

// `count` crashes at random operations, in operation order.
std::vector<PlannedCrash> PlanCrashes(uint64_t ops, int count, size_t victims, Rng& rng);

}  // namespace sb::sim
