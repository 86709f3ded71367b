// Random operation histories for the CRDT properties (crdt_properties_test.cpp,
// audience_properties_test.cpp): 3-5 replicas over a small pool of records, delivered in
// random order with duplication, loss-then-retry and partitions. On failure RapidCheck prints
// the shrunk history (the generated steps) and the log of what each step did.
// Included by one test program each: everything here is in an unnamed namespace.
#pragma once

#include <rapidcheck.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "conflict/codec.h"
#include "conflict/replica.h"

namespace sb {
namespace {

constexpr uint64_t kStart = 1'700'000'000'000;

// The pool of records ops touch: each with valid values for some scalar fields (shadows
// included: maintainer approvals) and element pools for its set fields.
struct PoolRecord {
  const char* id;
  const char* kind;
  std::map<std::string, std::vector<Value>> scalars;
  std::map<std::string, std::vector<std::string>> sets;
};
const std::vector<PoolRecord>& Pool() {
  auto t = [](const char* s) { return Value(std::string(s)); };
  auto b = [](bool v) { return Value(v); };
  static const std::vector<PoolRecord> kPool = {
      {"00000000-0000-4000-8000-000000000001",
       "organization",
       {{"name", {t("Casa Luz"), t("Safe Harbor")}},
        {"email", {t("help@casaluz.org"), t("info@example.org")}},
        {"email@published", {t("help@casaluz.org")}},
        {"year_incorporated", {Value(int64_t{1999}), Value(int64_t{2005})}},
        {"approved", {b(true), b(false)}},
        {"owner", {t("00000000-0000-4000-8000-0000000000aa")}},
        {"description", {t("shelter"), Value(Null{})}}},
       {{"countries_served", {"NG", "US", "MX"}}, {"populations_served", {"minors", "women"}}}},
      {"00000000-0000-4000-8000-000000000002",
       "service",
       {{"name", {t("Hotline"), t("Night shelter")}},
        {"status", {t("active"), t("temporarily closed")}},
        {"available_24_7", {b(true), b(false)}},
        {"capacity_beds_available", {Value(int64_t{0}), Value(int64_t{40})}},
        {"url", {t("https://casaluz.org/beds"), t("http://example.org")}},
        {"url@published", {t("https://casaluz.org/beds")}}},
       {{"categories", {"legal", "medical", "hotline"}}}},
      {"00000000-0000-4000-8000-000000000003",
       "phone",
       {{"number", {t("+14155550123"), t("+2348031234567")}},
        {"number@published", {t("+14155550123"), t("+2348031234567")}},
        {"type", {t("voice"), t("text")}},
        {"description", {t("24h"), Value(Null{})}}},
       {{"languages", {"es", "en", "fr"}}}},
      {"00000000-0000-4000-8000-000000000004",
       "location",
       {{"address_1", {t("1 Main St"), t("2 Side Rd")}},
        {"address_1@published", {t("1 Main St")}},
        {"address_confidential", {b(true), b(false)}},
        {"latitude", {t("6.5244"), t("-12.5")}}},
       {}}};
  return kPool;
}

enum class OpType { kSet, kAdd, kRemove, kDelete, kRestore };
struct Op {
  OpType type = OpType::kSet;
  int record = 0;
  std::map<std::string, Value> fields;  // kSet
  std::string field, element;           // kAdd, kRemove
};

enum class StepType { kLocal, kDeliver, kPartition, kHeal, kRetryLost };
enum class Fate { kOnce, kDuplicate, kLose };
struct Step {
  StepType type = StepType::kLocal;
  int replica = 0;          // who acts (kLocal) or receives (kDeliver)
  Op op;                    // kLocal
  size_t pick = 0;          // kDeliver: which deliverable message (modulo their number)
  Fate fate = Fate::kOnce;  // kDeliver
  std::vector<int> groups;  // kPartition: the group of each replica
  int advance_ms = 0;       // simulated time passing before the step
};

struct History {
  int replicas = 3;
  std::vector<Step> steps;
  std::vector<std::pair<size_t, bool>> final_picks;  // final delivery order and duplicates
};

std::ostream& operator<<(std::ostream& os, const Op& op) {
  static const char* const kNames[] = {"Set", "Add", "Remove", "Delete", "Restore"};
  os << kNames[static_cast<int>(op.type)] << " " << Pool()[op.record].kind << "#" << op.record + 1;
  for (const auto& [f, v] : op.fields) os << " " << f << "=" << ValueToString(v);
  if (!op.field.empty()) os << " " << op.field << " '" << op.element << "'";
  return os;
}
std::ostream& operator<<(std::ostream& os, const Step& s) {
  os << "+" << s.advance_ms << "ms ";
  switch (s.type) {
    case StepType::kLocal:
      return os << "r" << s.replica + 1 << ": " << s.op;
    case StepType::kDeliver:
      return os << "deliver to r" << s.replica + 1 << " pick " << s.pick
                << (s.fate == Fate::kLose        ? " LOST"
                    : s.fate == Fate::kDuplicate ? " DUP"
                                                 : "");
    case StepType::kPartition: {
      os << "partition groups";
      for (int g : s.groups) os << " " << g;
      return os;
    }
    case StepType::kHeal:
      return os << "heal";
    case StepType::kRetryLost:
      return os << "retry lost";
  }
  return os;
}
std::ostream& operator<<(std::ostream& os, const History& h) {
  os << h.replicas << " replicas, " << h.steps.size() << " steps:\n";
  for (const Step& s : h.steps) os << "  " << s << "\n";
  os << "  final picks:";
  for (auto [p, dup] : h.final_picks) os << " " << p << (dup ? "d" : "");
  return os;
}

rc::Gen<Op> GenOp() {
  return rc::gen::exec([] {
    Op op;
    op.type = *rc::gen::weightedElement<OpType>({{10, OpType::kSet},
                                                 {4, OpType::kAdd},
                                                 {3, OpType::kRemove},
                                                 {2, OpType::kDelete},
                                                 {2, OpType::kRestore}});
    op.record = *rc::gen::inRange(0, static_cast<int>(Pool().size()));
    if ((op.type == OpType::kAdd || op.type == OpType::kRemove) && Pool()[op.record].sets.empty()) {
      op.type = OpType::kSet;
    }
    if (op.type == OpType::kSet) {
      int n = *rc::gen::inRange(1, 3);
      for (int i = 0; i < n; ++i) {
        const auto& scalars = Pool()[op.record].scalars;
        auto field = std::next(scalars.begin(), *rc::gen::inRange<size_t>(0, scalars.size()));
        op.fields[field->first] = field->second[*rc::gen::inRange<size_t>(0, field->second.size())];
      }
    } else if (op.type == OpType::kAdd || op.type == OpType::kRemove) {
      const auto& sets = Pool()[op.record].sets;
      auto field = std::next(sets.begin(), *rc::gen::inRange<size_t>(0, sets.size()));
      op.field = field->first;
      op.element = *rc::gen::elementOf(field->second);
    }
    return op;
  });
}

rc::Gen<Step> GenStep(int replicas) {
  return rc::gen::exec([replicas] {
    Step s;
    s.type = *rc::gen::weightedElement<StepType>({{9, StepType::kLocal},
                                                  {8, StepType::kDeliver},
                                                  {1, StepType::kPartition},
                                                  {1, StepType::kHeal},
                                                  {1, StepType::kRetryLost}});
    s.advance_ms = *rc::gen::inRange(0, 4);
    s.replica = *rc::gen::inRange(0, replicas);
    if (s.type == StepType::kLocal) s.op = *GenOp();
    if (s.type == StepType::kDeliver) {
      s.pick = *rc::gen::inRange<size_t>(0, 16);
      s.fate = *rc::gen::weightedElement<Fate>(
          {{6, Fate::kOnce}, {2, Fate::kDuplicate}, {2, Fate::kLose}});
    }
    if (s.type == StepType::kPartition) {
      s.groups = *rc::gen::container<std::vector<int>>(replicas, rc::gen::inRange(0, 2));
    }
    return s;
  });
}

rc::Gen<History> GenHistory() {
  return rc::gen::exec([] {
    History h;
    h.replicas = *rc::gen::inRange(3, 6);
    h.steps = *rc::gen::resize(150, rc::gen::container<std::vector<Step>>(GenStep(h.replicas)));
    h.final_picks = *rc::gen::container<std::vector<std::pair<size_t, bool>>>(
        rc::gen::pair(rc::gen::inRange<size_t>(0, 64), rc::gen::arbitrary<bool>()));
    return h;
  });
}

// Runs a history: replicas, the network between them and a log of what happened.
struct World {
  struct Message {
    int to;
    size_t delta;  // index into deltas
    bool duplicated = false;
  };
  std::vector<Replica> replicas;
  std::vector<Delta> deltas;         // every delta produced, in order
  std::vector<Directory> snapshots;  // states seen along the way
  std::vector<Message> pending, lost;
  std::vector<int> groups;  // partition group of each replica
  uint64_t now = kStart;

  explicit World(int n) : groups(n, 0) {
    for (int i = 0; i < n; ++i) replicas.emplace_back(ReplicaId(i + 1), FieldSchema::Hsds());
  }

  void Local(int r, const Op& op) {
    Replica& rep = replicas[r];
    const std::string id = Pool()[op.record].id;
    Result<Delta> d = Status::Internal("no op");
    switch (op.type) {
      case OpType::kSet:
        d = rep.Set(id, Pool()[op.record].kind, op.fields, now);
        break;
      case OpType::kAdd:
        d = rep.AddElement(id, op.field, op.element, now);
        break;
      case OpType::kRemove:
        d = rep.RemoveElement(id, op.field, op.element, now);
        break;
      case OpType::kDelete:
        d = rep.Delete(id, now);
        break;
      case OpType::kRestore:
        d = rep.Restore(id, now);
        break;
    }
    RC_LOG() << "t" << now - kStart << " r" << r + 1 << " " << op << " -> "
             << (d.ok() ? "delta #" + std::to_string(deltas.size()) : d.status().ToString())
             << "\n";
    if (!d.ok()) {
      // Valid values on a missing, deleted or live record: only preconditions may fail.
      RC_ASSERT(d.status().code() == Code::kNotFound ||
                d.status().code() == Code::kFailedPrecondition);
      return;
    }
    for (int to = 0; to < static_cast<int>(replicas.size()); ++to) {
      if (to != r) pending.push_back(Message{to, deltas.size()});
    }
    deltas.push_back(std::move(d).value());
  }

  void Deliver(const Message& m) {
    Status s = replicas[m.to].Apply(deltas[m.delta], now);
    RC_LOG() << "t" << now - kStart << " r" << m.to + 1 << " <- delta #" << m.delta << ": "
             << s.ToString() << "\n";
    RC_ASSERT(s.ok());
  }

  void Run(const Step& s) {
    now += s.advance_ms;
    switch (s.type) {
      case StepType::kLocal:
        Local(s.replica, s.op);
        break;
      case StepType::kDeliver: {
        std::vector<size_t> ok;
        for (size_t i = 0; i < pending.size(); ++i) {
          const Message& m = pending[i];
          if (m.to == s.replica && groups[m.to] == groups[deltas[m.delta].author - 1]) {
            ok.push_back(i);
          }
        }
        if (ok.empty()) break;
        size_t i = ok[s.pick % ok.size()];
        Message m = pending[i];
        if (s.fate != Fate::kDuplicate) pending.erase(pending.begin() + i);
        if (s.fate == Fate::kLose) {
          RC_LOG() << "lost delta #" << m.delta << " to r" << m.to + 1 << "\n";
          lost.push_back(m);
        } else {
          Deliver(m);
        }
        break;
      }
      case StepType::kPartition:
        groups = s.groups;
        break;
      case StepType::kHeal:
        std::fill(groups.begin(), groups.end(), 0);
        break;
      case StepType::kRetryLost:
        pending.insert(pending.end(), lost.begin(), lost.end());
        lost.clear();
        break;
    }
    snapshots.push_back(replicas[s.replica].state());
  }

  // Heals, retries every lost message and delivers everything in the order `picks` gives.
  void DeliverAll(const std::vector<std::pair<size_t, bool>>& picks) {
    std::fill(groups.begin(), groups.end(), 0);
    pending.insert(pending.end(), lost.begin(), lost.end());
    lost.clear();
    for (size_t k = 0; !pending.empty(); ++k) {
      auto [pick, dup] = k < picks.size() ? picks[k] : std::pair<size_t, bool>{0, false};
      size_t i = pick % pending.size();
      Deliver(pending[i]);
      if (dup && !pending[i].duplicated) {
        pending[i].duplicated = true;  // delivered again later
      } else {
        pending.erase(pending.begin() + i);
      }
    }
  }
};

// Runs `h` (without the final delivery); what happens goes to RapidCheck's log.
std::unique_ptr<World> Play(const History& h) {
  auto w = std::make_unique<World>(h.replicas);
  for (const Step& s : h.steps) w->Run(s);
  return w;
}

// A readable dump of a record and of a state, logged when two differ.
inline std::string Describe(const Record& r) {
  std::ostringstream os;
  os << "  " << r.id() << " " << r.kind() << " " << r.context().ToString() << "\n";
  for (const auto& [name, f] : r.fields()) {
    os << "    " << name << ":";
    if (const auto* reg = std::get_if<MvRegister>(&f)) {
      for (const auto& [dot, e] : reg->entries()) {
        os << " " << dot.ToString() << "@" << e.stamp.ToString() << "=" << ValueToString(e.value);
      }
    } else {
      for (const auto& [element, dots] : std::get<AwSet>(f).raw()) {
        os << " " << element << "{";
        for (const Dot& d : dots) os << d.ToString() << " ";
        os << "}";
      }
    }
    os << "\n";
  }
  return os.str();
}
inline std::string Describe(const Directory& dir) {
  std::string out;
  for (const auto& [id, r] : dir.records()) out += Describe(r);
  return out;
}

}  // namespace
}  // namespace sb
