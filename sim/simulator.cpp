// The CRDT simulator: the run that ties N replicas to the simulators' lossy network
// (network.h) and workload of directory edits (workload.h); see simulator.h for the contract.
//
// Determinism: every random choice comes from the one Rng below, consumed in a fixed order;
// containers are ordered; time is an integer counter. Nothing reads the wall clock.
#include "sim/simulator.h"

#include "sim/network.h"
#include "sim/sim_random.h"
#include "sim/workload.h"

#include <sodium.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "conflict/codec.h"
#include "conflict/field_schema.h"
#include "conflict/replica.h"
#include "conflict/views.h"

namespace sb::sim {
namespace {

// ---------- The simulated world ----------
constexpr uint64_t kEpochMs = 1'700'000'000'000;  // simulated wall time when a run starts
constexpr uint64_t kMaxStepMs = 2;                // time between operations: 0 to 2 ms
constexpr uint64_t kMaxClockSkewMs = 40;          // each replica's clock is off by at most this
constexpr uint64_t kMaxAntiEntropyRounds = 1000;  // then give up: DIVERGED
constexpr size_t kAntiEntropyPeers = 4;  // replicas each one asks per round (gossip fan-out)
constexpr uint64_t kAntiEntropyIntervalMs = 1000;
constexpr size_t kStateChunkRecords = 256;  // records per reply message, well under kMaxDeltaBytes

// ---------- Messages ----------

// An anti-entropy summary: every record a replica holds, as (id, hash of its encoding),
// sorted by id.
using Summary = std::vector<std::pair<std::string, uint64_t>>;

// What a message carries: an encoded delta, or a summary. Shared by the copies in flight.
struct Payload {
  std::shared_ptr<const std::string> delta;
  std::shared_ptr<const Summary> summary;

  size_t size() const {
    if (delta) return delta->size();
    size_t n = 0;
    for (const auto& [id, hash] : *summary) n += id.size() + sizeof hash;
    return n;
  }
};

using ReplicaNetwork = Network<Payload>;
using Message = ReplicaNetwork::Message;

// ---------- The run ----------

void InitSodium() {
  static const bool kReady = sodium_init() >= 0;
  (void)kReady;  // BLAKE2b needs no initialised state to be correct
}

std::string HexDigest(const std::string& bytes) {
  InitSodium();
  unsigned char hash[crypto_generichash_BYTES];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(bytes.data()),
                     bytes.size(), nullptr, 0);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : hash) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

// A 64-bit BLAKE2b of the record's canonical encoding: equal records, equal hashes.
uint64_t RecordHash(const Record& record) {
  InitSodium();
  std::string bytes = EncodeRecord(record);
  unsigned char hash[8];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(bytes.data()),
                     bytes.size(), nullptr, 0);
  uint64_t out = 0;
  for (unsigned char b : hash) out = (out << 8) | b;
  return out;
}

class Simulation {
 public:
  Simulation(const SimOptions& options, std::ostream* progress)
      : options_(options),
        progress_(progress),
        rng_(options.seed),
        network_(static_cast<size_t>(std::max(1, options.replicas)),
                 NetworkFaults{options.drop, options.dup, options.reorder}, rng_),
        workload_(rng_, CrdtProfile(), Workload::Options()) {
    const FieldSchema& schema = FieldSchema::Hsds();
    size_t n = static_cast<size_t>(std::max(1, options.replicas));
    replicas_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      replicas_.emplace_back(static_cast<ReplicaId>(i + 1), schema);
      skew_.push_back(rng_.Between(0, 2 * kMaxClockSkewMs));  // offset of -kMaxClockSkewMs..+
    }
    hashes_.resize(n);
  }

  SimReport Run() {
    RunEdits();
    network_.Partition({});
    Drain();
    AntiEntropy();
    Finish();
    return report_;
  }

 private:
  uint64_t Physical(size_t replica) const { return now_ + skew_[replica] - kMaxClockSkewMs; }

  void RunEdits() {
    PartitionSchedule partitions(
        options_.replicas < 2
            ? std::vector<PartitionEpisode>{}
            : PlanPartitions(options_.ops, options_.partitions, replicas_.size(), rng_));
    for (uint64_t op = 0; op < options_.ops; ++op) {
      PartitionSchedule::Step step = partitions.At(op);
      if (step.ended) network_.Partition({});
      if (step.started) {
        network_.Partition(step.started->Sides(replicas_.size()));
        Say("partition " + std::to_string(step.number) + " at op " + std::to_string(op));
      }
      now_ += rng_.Below(kMaxStepMs + 1);
      DeliverDue();
      size_t r = rng_.Below(replicas_.size());
      Result<Delta> delta = Edit(r);
      ++report_.ops;
      if (delta.ok()) {
        Forget(r, *delta);
        Broadcast(r, DeltaPayload(*delta));
      } else {
        ++report_.refused_ops;
      }
      if (options_.ops >= 4 && (op + 1) % (options_.ops / 4) == 0) {
        Say(std::to_string(op + 1) + "/" + std::to_string(options_.ops) + " ops, " +
            std::to_string(network_.in_flight()) + " messages in flight");
      }
    }
  }

  // The workload's next edit, made by replica r.
  Result<Delta> Edit(size_t r) {
    Replica& replica = replicas_[r];
    Op op = workload_.Any([&replica](const std::string& id) -> std::optional<Record> {
      const Record* record = replica.state().Find(id);
      return record ? std::optional<Record>(*record) : std::nullopt;
    });
    const RecordEdit& e = op.edit;
    uint64_t now = Physical(r);
    if (e.restore) return replica.Restore(e.id, now);
    if (e.remove) return replica.Delete(e.id, now);
    if (op.element) {
      return op.element->add
                 ? replica.AddElement(e.id, op.element->field, op.element->element, now)
                 : replica.RemoveElement(e.id, op.element->field, op.element->element, now);
    }
    Result<Delta> delta = replica.Set(e.id, e.kind, e.values, now);
    if (op.creates && delta.ok()) workload_.AddRecord(e.id, e.kind, r);
    return delta;
  }

  void Broadcast(size_t from, Payload payload) {
    for (size_t to = 0; to < replicas_.size(); ++to) {
      if (to != from) network_.Send(from, to, payload, payload.size(), now_);
    }
  }

  static Payload DeltaPayload(const Delta& delta) {
    return Payload{std::make_shared<const std::string>(EncodeDelta(delta)), nullptr};
  }

  void DeliverDue() {
    while (std::optional<Message> m = network_.PopDue(now_)) Deliver(*m);
  }

  void Drain() {
    while (!network_.idle()) {
      now_ = std::max(now_, network_.next_due());
      DeliverDue();
    }
  }

  void Deliver(const Message& m) {
    if (m.payload.summary) return Reply(m.to, m.from, *m.payload.summary);
    Replica& to = replicas_[m.to];
    Result<Delta> delta = DecodeDelta(*m.payload.delta);
    Status s = delta.ok() ? to.Apply(*delta, Physical(m.to)) : delta.status();
    if (!s.ok()) {
      ++report_.deltas_rejected;
      ++rejected_this_round_;
      if (report_.failure.empty()) {
        report_.failure = "replica " + std::to_string(to.id()) + " rejected a message from " +
                          std::to_string(m.from + 1) + ": " + s.ToString();
      }
      return;
    }
    Forget(m.to, *delta);
    NoteConflicts(to, *delta);
  }

  // The hash of a record of `replica`, computed once per version of the record.
  uint64_t HashOf(size_t replica, const Record& record) {
    auto [it, inserted] = hashes_[replica].try_emplace(record.id(), 0);
    if (inserted) it->second = RecordHash(record);
    return it->second;
  }
  // Drops the cached hashes of the records `delta` changed at `replica`.
  void Forget(size_t replica, const Delta& delta) {
    for (const Record& r : delta.records) hashes_[replica].erase(r.id());
  }

  Summary Summarize(size_t replica) {
    Summary out;
    out.reserve(replicas_[replica].state().size());
    for (const auto& [id, record] : replicas_[replica].state().records()) {
      out.emplace_back(id, HashOf(replica, record));
    }
    return out;
  }

  // Remembers every (record, field) of the delta that now has siblings at `replica`.
  void NoteConflicts(const Replica& replica, const Delta& delta) {
    for (const Record& r : delta.records) {
      const Record* now = replica.state().Find(r.id());
      if (!now) continue;
      for (const auto& [name, field] : now->fields()) {
        const auto* reg = std::get_if<MvRegister>(&field);
        if (reg && reg->size() > 1) conflicts_.insert(r.id() + "." + name);
      }
    }
  }

  // Anti-entropy over the same lossy network, in rounds. In a round every replica sends a
  // summary of its records to kAntiEntropyPeers random others (to all of them in small
  // networks); a replica receiving a summary sends back, as deltas, the records it holds that
  // differ from the summary or are missing from it. Rounds continue until one changes nothing
  // and all states are equal.
  // Whether a round changed anything, and whether the states are equal, is judged on the
  // summaries (record hashes), which are cheap; Finish() compares the real encodings.
  void AntiEntropy() {
    std::vector<std::shared_ptr<const Summary>> before = SummarizeAll();
    for (uint64_t round = 1; round <= kMaxAntiEntropyRounds; ++round) {
      report_.anti_entropy_rounds = round;
      rejected_this_round_ = 0;
      now_ += kAntiEntropyIntervalMs;
      for (size_t from = 0; from < replicas_.size(); ++from) {
        Payload summary{nullptr, before[from]};
        for (size_t to : Peers(from)) network_.Send(from, to, summary, summary.size(), now_);
      }
      Drain();
      std::vector<std::shared_ptr<const Summary>> after = SummarizeAll();
      bool changed = false, equal = true;
      for (size_t i = 0; i < after.size(); ++i) {
        changed = changed || *after[i] != *before[i];
        equal = equal && *after[i] == *after.front();
      }
      before = std::move(after);
      if (equal || round % 50 == 0) {
        Say("anti-entropy round " + std::to_string(round) + (equal ? ": states equal" : ""));
      }
      if (!changed && equal) return;
      if (!changed && rejected_this_round_ > 0) return;  // stuck on refusals: rounds won't help
    }
  }

  std::vector<std::shared_ptr<const Summary>> SummarizeAll() {
    std::vector<std::shared_ptr<const Summary>> out;
    for (size_t i = 0; i < replicas_.size(); ++i) {
      out.push_back(std::make_shared<const Summary>(Summarize(i)));
    }
    return out;
  }

  // The replicas `from` asks in a round: all others, or kAntiEntropyPeers picked at random.
  std::vector<size_t> Peers(size_t from) {
    std::vector<size_t> others;
    for (size_t i = 0; i < replicas_.size(); ++i) {
      if (i != from) others.push_back(i);
    }
    if (others.size() <= kAntiEntropyPeers) return others;
    for (size_t i = 0; i < kAntiEntropyPeers; ++i) {
      std::swap(others[i], others[i + rng_.Below(others.size() - i)]);
    }
    others.resize(kAntiEntropyPeers);
    return others;
  }

  // Sends `to` the records of replica `from` that `theirs` (to's summary) lacks or holds
  // differently, in chunks of whole-record deltas.
  void Reply(size_t from, size_t to, const Summary& theirs) {
    Replica& replica = replicas_[from];
    Delta chunk{replica.id(), replica.clock().Now(Physical(from)), {}};
    auto flush = [&] {
      Payload payload = DeltaPayload(chunk);
      size_t bytes = payload.size();
      network_.Send(from, to, std::move(payload), bytes, now_);
      chunk.records.clear();
    };
    auto it = theirs.begin();
    for (const auto& [id, record] : replica.state().records()) {
      while (it != theirs.end() && it->first < id) ++it;
      if (it != theirs.end() && it->first == id && it->second == HashOf(from, record)) continue;
      chunk.records.push_back(record);
      if (chunk.records.size() == kStateChunkRecords) flush();
    }
    if (!chunk.records.empty()) flush();
  }

  std::vector<std::string> EncodeAll() const {
    std::vector<std::string> out;
    for (const Replica& r : replicas_) out.push_back(EncodeDirectory(r.state()));
    return out;
  }

  bool ViewsAgree() const {
    const FieldSchema& schema = FieldSchema::Hsds();
    const Directory& first = replicas_.front().state();
    for (size_t i = 1; i < replicas_.size(); ++i) {
      const Directory& other = replicas_[i].state();
      if (other.size() != first.size()) return false;
      for (const auto& [id, record] : first.records()) {
        const Record* theirs = other.Find(id);
        if (!theirs || ProposedView(record, schema) != ProposedView(*theirs, schema) ||
            PublishedView(record, schema) != PublishedView(*theirs, schema) ||
            Conflicts(record, schema) != Conflicts(*theirs, schema)) {
          return false;
        }
      }
    }
    return true;
  }

  void Finish() {
    const NetworkStats& net = network_.stats();
    report_.messages_sent = net.sent;
    report_.bytes_sent = net.bytes;
    report_.messages_delivered = net.delivered;
    report_.messages_dropped = net.dropped + net.cut;  // at random, or cut by a partition
    report_.messages_duplicated = net.duplicated;
    std::vector<std::string> encodings = EncodeAll();
    bool equal = std::all_of(encodings.begin(), encodings.end(),
                             [&](const std::string& e) { return e == encodings.front(); });
    const Directory& state = replicas_.front().state();
    for (const auto& [id, record] : state.records()) {
      for (const Conflict& c : Conflicts(record, FieldSchema::Hsds())) {
        ++report_.final_conflicts;
        if (c.kind == ConflictKind::kEditedWhileDeleted) ++report_.final_deleted_edits;
      }
    }
    report_.records = state.size();
    report_.conflicts_seen = conflicts_.size();
    report_.converged = equal && ViewsAgree() && report_.deltas_rejected == 0;
    if (!equal && report_.failure.empty()) {
      report_.failure = "states still differ after " + std::to_string(report_.anti_entropy_rounds) +
                        " anti-entropy rounds";
    }
    report_.digest_hex = HexDigest(encodings.front());
  }

  void Say(const std::string& line) {
    if (progress_) *progress_ << "sim: " << line << "\n" << std::flush;
  }

  const SimOptions options_;
  std::ostream* progress_;
  SimReport report_;
  Rng rng_;
  ReplicaNetwork network_;
  Workload workload_;
  std::vector<Replica> replicas_;
  std::vector<uint64_t> skew_;
  uint64_t now_ = kEpochMs;
  uint64_t rejected_this_round_ = 0;
  std::set<std::string> conflicts_;
  std::vector<std::map<std::string, uint64_t>> hashes_;  // per replica: record id -> RecordHash
};

}  // namespace

SimReport RunSimulation(const SimOptions& options, std::ostream* progress) {
  return Simulation(options, progress).Run();
}

void PrintReport(const SimOptions& options, const SimReport& report, std::ostream& out) {
  out << "replicas " << options.replicas << ", ops " << report.ops << " (refused "
      << report.refused_ops << "), seed " << options.seed << "\n";
  out << "network: drop " << options.drop << ", dup " << options.dup << ", reorder "
      << (options.reorder ? "on" : "off") << ", partitions " << options.partitions << "\n";
  out << "messages: sent " << report.messages_sent << " (" << (report.bytes_sent + 512) / 1024
      << " KiB), delivered " << report.messages_delivered << ", dropped " << report.messages_dropped
      << ", duplicated " << report.messages_duplicated << ", rejected " << report.deltas_rejected
      << "\n";
  out << "conflicts seen: " << report.conflicts_seen << " (final: " << report.final_conflicts
      << " in review, " << report.final_deleted_edits
      << " of them edits of deleted records), records: " << report.records << "\n";
  out << "anti-entropy: " << report.anti_entropy_rounds << " rounds\n";
  if (!report.failure.empty()) out << "failure: " << report.failure << "\n";
  out << (report.converged ? "converged " : "DIVERGED ") << report.digest_hex << "\n";
}

}  // namespace sb::sim
