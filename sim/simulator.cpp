// The simulator: a seeded generator, a lossy network, a workload of directory edits, and the
// run that ties them to N replicas (see simulator.h for the contract).
//
// Determinism: every random choice comes from the one Rng below, consumed in a fixed order;
// containers are ordered; time is an integer counter. Nothing reads the wall clock.
#include "sim/simulator.h"

#include "sim/sim_random.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <tuple>
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
constexpr uint64_t kLatencyMs = 25;               // one-way delay when order is preserved
constexpr uint64_t kMaxJitterMs = 300;            // random delay with --reorder, and of duplicates
constexpr uint64_t kCreatePercent = 8;            // share of operations that create a record
constexpr size_t kHotRecords = 12;                // records everyone keeps editing
constexpr size_t kRecentRecords = 32;             // recently created records, often edited
constexpr uint64_t kMaxAntiEntropyRounds = 1000;  // then give up: DIVERGED
constexpr size_t kAntiEntropyPeers = 4;  // replicas each one asks per round (gossip fan-out)
constexpr uint64_t kAntiEntropyIntervalMs = 1000;
constexpr size_t kStateChunkRecords = 256;  // records per reply message, well under kMaxDeltaBytes

// ---------- Network ----------

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

struct Message {
  uint64_t deliver_at = 0;
  uint64_t seq = 0;  // send order: breaks ties, so the delivery order is total
  size_t from = 0, to = 0;
  Payload payload;
};

struct DeliverLater {
  bool operator()(const Message& a, const Message& b) const {
    return std::tie(a.deliver_at, a.seq) > std::tie(b.deliver_at, b.seq);
  }
};

// Messages in flight between replicas. Loses, duplicates and (with reorder) delays messages
// at random, and drops those that cross a partition when sent or when due. Counts into the
// report it borrows.
class Network {
 public:
  Network(const SimOptions& options, Rng& rng, SimReport& report)
      : options_(options), rng_(rng), report_(report) {}

  void Send(size_t from, size_t to, Payload payload, uint64_t now) {
    ++report_.messages_sent;
    report_.bytes_sent += payload.size();
    if (Cut(from, to) || rng_.Chance(options_.drop)) {
      ++report_.messages_dropped;
      return;
    }
    uint64_t at = now + Delay();
    if (rng_.Chance(options_.dup)) {
      ++report_.messages_duplicated;
      Push(from, to, payload, at + 1 + rng_.Below(kMaxJitterMs));
    }
    Push(from, to, std::move(payload), at);
  }

  // The next message due by `now` that no partition cuts; cut ones are counted as dropped.
  std::optional<Message> PopDue(uint64_t now) {
    while (!queue_.empty() && queue_.top().deliver_at <= now) {
      Message m = queue_.top();
      queue_.pop();
      if (Cut(m.from, m.to)) {
        ++report_.messages_dropped;
        continue;
      }
      ++report_.messages_delivered;
      return m;
    }
    return std::nullopt;
  }

  bool idle() const { return queue_.empty(); }
  size_t in_flight() const { return queue_.size(); }
  uint64_t next_due() const { return queue_.top().deliver_at; }  // precondition: !idle()

  // side[i] is replica i's side of a partition; empty heals it.
  void Partition(std::vector<uint8_t> side) { side_ = std::move(side); }

 private:
  bool Cut(size_t a, size_t b) const { return !side_.empty() && side_[a] != side_[b]; }
  uint64_t Delay() { return options_.reorder ? 1 + rng_.Below(kMaxJitterMs) : kLatencyMs; }
  void Push(size_t from, size_t to, Payload payload, uint64_t at) {
    queue_.push(Message{at, next_seq_++, from, to, std::move(payload)});
  }

  const SimOptions& options_;
  Rng& rng_;
  SimReport& report_;
  std::priority_queue<Message, std::vector<Message>, DeliverLater> queue_;
  uint64_t next_seq_ = 0;
  std::vector<uint8_t> side_;
};

// A partition episode: from operation start_op until end_op, replicas on different sides
// cannot reach each other.
struct Episode {
  uint64_t start_op = 0, end_op = 0;
  std::vector<uint8_t> side;
};

// Spreads the episodes over the run, one per equal slot of operations, none overlapping.
std::vector<Episode> PlanPartitions(const SimOptions& o, Rng& rng) {
  std::vector<Episode> plan;
  if (o.replicas < 2 || o.ops == 0 || o.partitions <= 0) return plan;
  uint64_t slot = std::max<uint64_t>(1, o.ops / static_cast<uint64_t>(o.partitions));
  for (int k = 0; k < o.partitions; ++k) {
    uint64_t base = static_cast<uint64_t>(k) * slot;
    if (base >= o.ops) break;
    Episode e;
    e.start_op = base + rng.Below(slot / 2 + 1);
    e.end_op = e.start_op + std::max<uint64_t>(1, slot / 8 + rng.Below(slot * 3 / 8 + 1));
    std::vector<size_t> order(static_cast<size_t>(o.replicas));
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    for (size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[rng.Below(i + 1)]);
    size_t cut = 1 + rng.Below(order.size() - 1);
    e.side.assign(order.size(), 0);
    for (size_t i = cut; i < order.size(); ++i) e.side[order[i]] = 1;
    plan.push_back(std::move(e));
  }
  return plan;
}

// ---------- Workload ----------

struct KindPlan {
  std::string kind;
  std::vector<std::string> scalars;  // the first is the hot field, written most often
  std::vector<std::string> sets;
  std::vector<std::string> moderated;  // fields a maintainer approves
};

const std::vector<KindPlan>& Plans() {
  static const std::vector<KindPlan> kPlans = {
      {"organization",
       {"name", "description", "alternate_name", "legal_status", "year_incorporated", "email",
        "website"},
       {"countries_served", "populations_served"},
       {"email", "website"}},
      {"service",
       {"capacity_beds_available", "status", "available_24_7", "name", "description",
        "capacity_beds_total", "url", "email", "eligibility_description", "fees_description"},
       {"categories", "populations_served", "countries_served"},
       {"url", "email"}},
      {"phone", {"number", "type", "description", "extension"}, {"languages"}, {"number"}},
      {"location",
       {"name", "description", "city", "location_type", "latitude", "longitude", "address_1",
        "address_confidential", "postal_code", "country"},
       {},
       {"address_1"}},
  };
  return kPlans;
}

const KindPlan& PlanOf(const std::string& kind) {
  for (const KindPlan& p : Plans()) {
    if (p.kind == kind) return p;
  }
  return Plans().front();  // unreachable: the pool holds only planned kinds
}

// Fewer countries than a set may hold, so concurrent adds never exceed max_elements.
const std::vector<std::string> kCountries = {"NG", "GH", "US", "MX", "GT", "HN", "SV",
                                             "RO", "MD", "UA", "PH", "VN", "TH", "IN",
                                             "NP", "BR", "CO", "DE", "IT", "ES"};
const std::vector<std::string> kLanguages = {"en", "es", "fr", "ar", "ru", "uk",
                                             "ro", "vi", "zh", "tl", "pt", "hi"};
const std::vector<std::string> kCities = {"Lagos",  "Accra",   "Houston",   "Tijuana", "Chisinau",
                                          "Manila", "Bangkok", "Kathmandu", "Bogota",  "Rome"};
const std::vector<std::string> kOrgNames = {"Safe Harbor",  "New Dawn",   "Open Door",   "Bridges",
                                            "Freedom Path", "Lighthouse", "Hope Street", "Polaris",
                                            "Haven",        "Crossroads"};
const std::vector<std::string> kOrgSuffixes = {"Alliance",   "Network", "Foundation",
                                               "Collective", "Project", "Center"};
const std::vector<std::string> kServiceNames = {
    "Emergency Shelter", "Legal Clinic", "Case Management", "Counseling",
    "Helpline",          "Job Training", "Interpreting",    "Medical Outreach"};
const std::vector<std::string> kNotes = {
    "Intake on weekdays; call ahead.",   "Walk-ins welcome during opening hours.",
    "Referral from a partner required.", "Confidential; survivors of all ages.",
    "Services free of charge.",          "Interpreters available on request.",
    "Temporarily reduced hours.",        "Accepts referrals from law enforcement."};
const std::vector<std::string> kMailboxes = {"intake", "help", "info", "referrals"};
const std::vector<std::string> kDomains = {"safeharbor.org", "newdawn.ngo", "polaris.example",
                                           "haven.example.org", "bridges.net"};

// Chooses and performs edits. Keeps the pool of record ids created so far (a record may not
// have reached the editing replica yet: then an edit creates it concurrently or is refused).
class Workload {
 public:
  explicit Workload(Rng& rng) : rng_(rng), schema_(FieldSchema::Hsds()) {}

  Result<Delta> Edit(Replica& replica, uint64_t now) {
    if (pool_.empty() || rng_.Below(100) < kCreatePercent) return Create(replica, now);
    const PoolRecord& target = Target();
    const KindPlan& plan = PlanOf(target.kind);
    const Record* local = replica.state().Find(target.id);
    if (local && local->IsDeleted() && rng_.Chance(0.5)) return replica.Restore(target.id, now);
    uint64_t roll = rng_.Below(100);
    if (roll < 3) return replica.Delete(target.id, now);
    if (roll < 8) return Approve(replica, target, plan, local, now);
    if (roll < 30 && !plan.sets.empty()) return EditSet(replica, target, plan, local, now);
    std::map<std::string, Value> fields;
    size_t count = roll < 42 ? 2 + rng_.Below(2) : 1;
    for (size_t i = 0; i < count; ++i) {
      const std::string& field = rng_.Chance(0.4) ? plan.scalars.front() : rng_.Pick(plan.scalars);
      fields[field] = MakeValue(target.kind, field);
    }
    return replica.Set(target.id, target.kind, fields, now);
  }

 private:
  struct PoolRecord {
    std::string id;
    std::string kind;
  };

  const PoolRecord& Target() {
    size_t n = pool_.size();
    uint64_t roll = rng_.Below(100);
    if (roll < 35) return pool_[rng_.Below(std::min(n, kHotRecords))];
    if (roll < 55) return pool_[n - 1 - rng_.Below(std::min(n, kRecentRecords))];
    return pool_[rng_.Below(n)];
  }

  Result<Delta> Create(Replica& replica, uint64_t now) {
    uint64_t roll = rng_.Below(100);
    std::string kind = orgs_.empty() || roll < 25 ? "organization"
                       : roll < 65                ? "service"
                       : roll < 85                ? "phone"
                                                  : "location";
    std::string id = NewId();
    std::map<std::string, Value> fields;
    if (kind == "organization") {
      fields[kOwnerField] = id;
      for (const char* f : {"name", "description", "website"}) fields[f] = MakeValue(kind, f);
    } else {
      const std::string& org = rng_.Pick(orgs_);
      fields[kOwnerField] = org;
      fields["organization_id"] = org;
      std::vector<std::string> initial =
          kind == "service" ? std::vector<std::string>{"name", "status", "available_24_7",
                                                       "capacity_beds_available", "description"}
          : kind == "phone" ? std::vector<std::string>{"number", "type"}
                            : std::vector<std::string>{"name", "city", "location_type", "country"};
      for (const std::string& f : initial) fields[f] = MakeValue(kind, f);
    }
    Result<Delta> delta = replica.Set(id, kind, fields, now);
    if (delta.ok()) {
      pool_.push_back({id, kind});
      if (kind == "organization") orgs_.push_back(id);
    }
    return delta;
  }

  // A maintainer publishes the proposed value of a moderated field; without one, a partner
  // proposes a value instead.
  Result<Delta> Approve(Replica& replica, const PoolRecord& target, const KindPlan& plan,
                        const Record* local, uint64_t now) {
    const std::string& field = rng_.Pick(plan.moderated);
    std::optional<Value> proposed = local ? local->Displayed(field) : std::nullopt;
    if (proposed && !std::holds_alternative<Null>(*proposed)) {
      return replica.Set(target.id, target.kind, {{PublishedFieldName(field), *proposed}}, now);
    }
    return replica.Set(target.id, target.kind, {{field, MakeValue(target.kind, field)}}, now);
  }

  Result<Delta> EditSet(Replica& replica, const PoolRecord& target, const KindPlan& plan,
                        const Record* local, uint64_t now) {
    const std::string& field = rng_.Pick(plan.sets);
    const AwSet* set = local ? local->Set(field) : nullptr;
    if (set && !set->empty() && rng_.Chance(0.4)) {
      return replica.RemoveElement(target.id, field, rng_.Pick(set->Elements()), now);
    }
    return replica.AddElement(target.id, field, MakeElement(target.kind, field), now);
  }

  std::string NewId() { return sim::NewId(rng_); }

  std::string Digits(size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + rng_.Below(10)));
    return s;
  }

  // Each helper call below draws from the generator in its own statement: the operands of
  // `+` are unsequenced, and the order of draws must not depend on the compiler.
  std::string MakeText(const std::string& kind, const std::string& field, const FieldSpec& spec) {
    std::string s;
    switch (spec.pattern) {
      case Pattern::kE164:
        s = "+" + std::to_string(rng_.Between(1, 9));
        s += Digits(10);
        return s;
      case Pattern::kEmail:
        s = rng_.Pick(kMailboxes);
        s += std::to_string(rng_.Below(100)) + "@";
        s += rng_.Pick(kDomains);
        return s;
      case Pattern::kUrl:
        s = "https://" + rng_.Pick(kDomains);
        s += "/s/" + std::to_string(rng_.Below(1000));
        return s;
      case Pattern::kCountry:
        return rng_.Pick(kCountries);
      case Pattern::kLanguage:
        return rng_.Pick(kLanguages);
      case Pattern::kDecimal:
        s = rng_.Chance(0.5) ? "-" : "";
        s += std::to_string(rng_.Below(90)) + ".";
        s += Digits(4);
        return s;
      case Pattern::kUuid:
        return orgs_.empty() ? NewId() : rng_.Pick(orgs_);
      default:
        break;
    }
    if (field == "name") {
      if (kind == "organization") {
        s = rng_.Pick(kOrgNames) + " ";
        s += rng_.Pick(kOrgSuffixes);
      } else {
        s = (kind == "service" ? rng_.Pick(kServiceNames) : rng_.Pick(kCities) + " site") + " ";
        s += Digits(2);
      }
      return s;
    }
    if (field == "city") return rng_.Pick(kCities);
    if (field == "extension") return Digits(1 + rng_.Below(4));
    if (field == "postal_code") return Digits(5);
    if (field == "alternate_name") return rng_.Pick(kOrgNames);
    if (field == "legal_status") return rng_.Chance(0.5) ? "nonprofit" : "charity";
    if (field == "address_1") return std::to_string(rng_.Between(1, 999)) + " Main Street";
    s = rng_.Pick(kNotes) + " Rev ";
    s += Digits(3) + ".";
    return s.substr(0, spec.max_length);
  }

  Value MakeValue(const std::string& kind, const std::string& field) {
    const FieldSpec& spec = *schema_.Field(kind, field);
    switch (spec.type) {
      case FieldType::kBool:
        return Value(rng_.Chance(0.5));
      case FieldType::kEnum:
        return Value(rng_.Pick(spec.enum_values));
      case FieldType::kInt: {
        if (field == "year_incorporated")
          return Value(static_cast<int64_t>(rng_.Between(1950, 2024)));
        uint64_t span = std::min<uint64_t>(80, static_cast<uint64_t>(spec.max_int - spec.min_int));
        return Value(spec.min_int + static_cast<int64_t>(rng_.Between(0, span)));
      }
      default:
        return Value(MakeText(kind, field, spec));
    }
  }

  std::string MakeElement(const std::string& kind, const std::string& field) {
    const FieldSpec& spec = *schema_.Field(kind, field);
    if (!spec.enum_values.empty()) return rng_.Pick(spec.enum_values);
    return spec.pattern == Pattern::kLanguage ? rng_.Pick(kLanguages) : rng_.Pick(kCountries);
  }

  Rng& rng_;
  const FieldSchema& schema_;
  std::vector<PoolRecord> pool_;
  std::vector<std::string> orgs_;
};

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
        network_(options_, rng_, report_),
        workload_(rng_) {
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
    std::vector<Episode> plan = PlanPartitions(options_, rng_);
    size_t episode = 0;
    bool partitioned = false;
    for (uint64_t op = 0; op < options_.ops; ++op) {
      if (partitioned && op >= plan[episode].end_op) {
        network_.Partition({});
        partitioned = false;
        ++episode;
      }
      if (!partitioned && episode < plan.size() && op >= plan[episode].start_op) {
        network_.Partition(plan[episode].side);
        partitioned = true;
        Say("partition " + std::to_string(episode + 1) + " at op " + std::to_string(op));
      }
      now_ += rng_.Below(kMaxStepMs + 1);
      DeliverDue();
      size_t r = rng_.Below(replicas_.size());
      Result<Delta> delta = workload_.Edit(replicas_[r], Physical(r));
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

  void Broadcast(size_t from, Payload payload) {
    for (size_t to = 0; to < replicas_.size(); ++to) {
      if (to != from) network_.Send(from, to, payload, now_);
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
        for (size_t to : Peers(from)) network_.Send(from, to, summary, now_);
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
      network_.Send(from, to, DeltaPayload(chunk), now_);
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
  Network network_;
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
