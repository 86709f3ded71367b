#include "tests/nemesis/checker.h"

#include <algorithm>
#include <sstream>

namespace sb::nemesis {

const char* OpKindName(OpKind k) {
  switch (k) {
    case OpKind::kCreate:
      return "create";
    case OpKind::kScalar:
      return "scalar";
    case OpKind::kSet:
      return "set";
    case OpKind::kDelete:
      return "delete";
    case OpKind::kRestore:
      return "restore";
  }
  return "?";
}

const std::vector<std::string>& ComparedFields() {
  static const std::vector<std::string> kFields = {
      "name",     "description",      "year_incorporated",  "status",
      "approved", "countries_served", "populations_served", "categories"};
  return kFields;
}

bool IsSetField(const std::string& field) {
  return field == "countries_served" || field == "populations_served" || field == "categories";
}

namespace {

json Sorted(json a) {
  if (a.is_array()) std::sort(a.begin(), a.end());
  return a;
}

}  // namespace

RecordView RecordFromJson(const json& record) {
  RecordView v;
  v.deleted = record.value("deleted", false);
  if (!record.contains("fields") || !record["fields"].is_object()) return v;
  const json& fields = record["fields"];
  for (const std::string& name : ComparedFields()) {
    if (!fields.contains(name) || !fields[name].is_object()) continue;
    const json& f = fields[name];
    FieldView fv;
    fv.value =
        IsSetField(name) ? Sorted(f.value("value", json::array())) : f.value("value", json());
    if (fv.value.is_null() || (fv.value.is_array() && fv.value.empty())) continue;
    if (f.contains("siblings") && f["siblings"].is_array()) {
      for (const json& s : f["siblings"]) fv.siblings.push_back(s.value("value", json()));
      std::sort(fv.siblings.begin(), fv.siblings.end());
    }
    v.fields[name] = std::move(fv);
  }
  return v;
}

uint64_t Report::AckedTotal() const {
  uint64_t n = 0;
  for (const auto& [k, v] : acked) n += v;
  return n;
}

std::string Report::Summary() const {
  std::ostringstream out;
  auto counts = [&](const char* title, const std::map<std::string, uint64_t>& m) {
    uint64_t total = 0;
    for (const auto& [k, v] : m) total += v;
    out << title << ": " << total;
    if (!m.empty()) {
      out << " (";
      bool first = true;
      for (const auto& [k, v] : m) {
        out << (first ? "" : ", ") << k << " " << v;
        first = false;
      }
      out << ")";
    }
    out << "\n";
  };
  counts("acknowledged", acked);
  counts("unacknowledged attempts", attempted);
  counts("faults injected", faults);
  out << "referrals checked: " << referrals_checked << "\n";
  out << "rejected by the broker (told to the writer): " << rejected << "\n";
  out << "lost: " << lost.size() << "\n";
  out << "diverged: " << diverged.size() << "\n";
  out << "referral problems: " << referral_problems.size() << "\n";
  out << "phantoms: " << phantoms.size() << "\n";
  if (converge_seconds >= 0) out << "converged " << converge_seconds << " s after healing\n";
  auto list = [&](const char* title, const std::vector<std::string>& items) {
    for (size_t i = 0; i < items.size() && i < 50; ++i)
      out << "  " << title << ": " << items[i] << "\n";
    if (items.size() > 50) out << "  ... and " << items.size() - 50 << " more\n";
  };
  list("LOST", lost);
  list("DIVERGED", diverged);
  list("REFERRAL", referral_problems);
  list("PHANTOM", phantoms);
  return out.str();
}

namespace {

// One write of one field, as the rules see it (a create counts as a write of each field).
struct FieldWrite {
  const WriteOp* op = nullptr;
  json value;  // scalar value, or set contents (sorted)
};

std::string Describe(const WriteOp& w) {
  std::ostringstream s;
  s << OpKindName(w.kind) << " by " << w.agent << " of " << w.record;
  if (!w.field.empty()) s << "." << w.field;
  if (w.kind == OpKind::kScalar || w.kind == OpKind::kSet) s << " = " << w.value.dump();
  s << " (acknowledged at " << w.end_us / 1000 << " ms)";
  return s.str();
}

std::string DescribeField(const FieldView* f) {
  if (!f) return "absent";
  std::string s = f->value.dump();
  if (!f->siblings.empty()) s += " siblings " + json(f->siblings).dump();
  return s;
}

bool Contains(const json& set, const json& e) {
  return set.is_array() && std::find(set.begin(), set.end(), e) != set.end();
}

// What differs between two views of a record ("" when nothing).
std::string Difference(const RecordView& want, const RecordView& got) {
  if (want.deleted != got.deleted) {
    return std::string("deleted ") + (got.deleted ? "true" : "false") + ", broker " +
           (want.deleted ? "true" : "false");
  }
  std::set<std::string> names;
  for (const auto& [k, v] : want.fields) names.insert(k);
  for (const auto& [k, v] : got.fields) names.insert(k);
  for (const std::string& n : names) {
    auto a = want.fields.find(n), b = got.fields.find(n);
    const FieldView* fa = a == want.fields.end() ? nullptr : &a->second;
    const FieldView* fb = b == got.fields.end() ? nullptr : &b->second;
    if (fa && fb && *fa == *fb) continue;
    return n + " is " + DescribeField(fb) + ", broker " + DescribeField(fa);
  }
  return "";
}

}  // namespace

Report Check(const History& history, const Observation& observed) {
  Report report;

  // ---- counts ----
  for (const WriteOp& w : history.writes) {
    (w.acked ? report.acked : report.attempted)[OpKindName(w.kind)]++;
  }
  for (const ReferralOp& r : history.referrals) {
    (r.acked ? report.acked : report.attempted)["referral " + r.action]++;
  }

  // ---- diverged: every agent against the broker, record by record ----
  std::set<std::string> ids;
  for (const WriteOp& w : history.writes) ids.insert(w.record);
  for (const auto& [agent, view] : observed.agents) {
    for (const std::string& id : ids) {
      auto b = observed.broker.find(id);
      auto a = view.find(id);
      if (b == observed.broker.end() && a == view.end()) continue;
      if (b == observed.broker.end()) {
        report.diverged.push_back(agent + ": has " + id + ", the broker does not");
        continue;
      }
      if (a == view.end()) {
        report.diverged.push_back(agent + ": lacks " + id + ", which the broker has");
        continue;
      }
      std::string diff = Difference(b->second, a->second);
      if (!diff.empty()) report.diverged.push_back(agent + ": " + id + ": " + diff);
    }
  }

  // ---- writes, field by field, on the broker's view ----
  std::map<std::pair<std::string, std::string>, std::vector<FieldWrite>> by_field;
  std::map<std::string, std::vector<const WriteOp*>> deletes, restores;
  for (const WriteOp& w : history.writes) {
    switch (w.kind) {
      case OpKind::kCreate:
        for (const auto& [name, v] : w.fields.items()) {
          if (std::find(ComparedFields().begin(), ComparedFields().end(), name) ==
              ComparedFields().end()) {
            continue;
          }
          by_field[{w.record, name}].push_back({&w, IsSetField(name) ? Sorted(v) : v});
        }
        break;
      case OpKind::kScalar:
      case OpKind::kSet:
        by_field[{w.record, w.field}].push_back(
            {&w, w.kind == OpKind::kSet ? Sorted(w.value) : w.value});
        break;
      case OpKind::kDelete:
        deletes[w.record].push_back(&w);
        break;
      case OpKind::kRestore:
        restores[w.record].push_back(&w);
        break;
    }
  }
  auto rejected = [&](const WriteOp& w) {
    auto it = observed.rejected_records.find(w.agent);
    return it != observed.rejected_records.end() && it->second.count(w.record) > 0;
  };
  auto lose = [&](const WriteOp& w, const std::string& what) {
    if (rejected(w)) {
      report.rejected++;
      return;
    }
    report.lost.push_back(what);
  };

  for (const auto& [key, writes] : by_field) {
    // Named, not a structured binding: a lambda below uses the id (clang 14 allows no capture
    // of a binding).
    const std::string& id = key.first;
    const std::string& field = key.second;
    auto rec = observed.broker.find(id);
    const FieldView* now = nullptr;
    if (rec != observed.broker.end()) {
      auto f = rec->second.fields.find(field);
      if (f != rec->second.fields.end()) now = &f->second;
    }
    bool is_set = IsSetField(field);
    // The values (or elements) the field holds now.
    std::vector<json> present;
    if (now) {
      if (is_set) {
        for (const json& e : now->value) present.push_back(e);
      } else {
        present.push_back(now->value);
        for (const json& s : now->siblings) present.push_back(s);
      }
    }
    auto holds = [&](const json& v) {
      return std::find(present.begin(), present.end(), v) != present.end();
    };
    // Phantoms: what the field holds that no request wrote.
    for (const json& v : present) {
      bool written = false;
      for (const FieldWrite& w : writes) {
        written = written || (is_set ? Contains(w.value, v) : w.value == v);
      }
      if (!written) {
        report.phantoms.push_back(id + "." + field + " holds " + v.dump() +
                                  ", which no request wrote");
      }
    }
    // A delete removes every value its writer had seen (DeleteDelta): a delete begun after w
    // was acknowledged may have removed w's value or elements.
    auto deleted_after = [&](const WriteOp& w) {
      auto d = deletes.find(id);
      if (d == deletes.end()) return false;
      for (const WriteOp* x : d->second) {
        if (x->begin_us > w.end_us) return true;
      }
      return false;
    };
    for (const FieldWrite& w : writes) {
      if (!w.op->acked || w.op->unchanged) continue;
      if (rec == observed.broker.end()) {
        lose(*w.op, Describe(*w.op) + ": the broker has no record " + id);
        continue;
      }
      if (!is_set) {
        if (holds(w.value)) continue;
        bool superseded = deleted_after(*w.op);
        for (const FieldWrite& x : writes) {
          superseded =
              superseded || (!x.op->unchanged && x.op->begin_us > w.op->end_us && holds(x.value));
        }
        if (!superseded) {
          lose(
              *w.op,
              Describe(*w.op) + ": " + id + "." + field + " is " + DescribeField(now) +
                  ", and neither a value there nor a delete was written after it was acknowledged");
        }
        continue;
      }
      for (const json& e : w.value) {
        if (holds(e)) continue;
        bool removed = deleted_after(*w.op);
        for (const FieldWrite& x : writes) {
          removed = removed ||
                    (!x.op->unchanged && x.op->begin_us > w.op->end_us && !Contains(x.value, e));
        }
        if (!removed) {
          lose(*w.op, Describe(*w.op) + ": element " + e.dump() + " is missing from " + id + "." +
                          field + " = " + DescribeField(now) +
                          ", and no write or delete begun after it left it out");
        }
      }
    }
  }

  // Deletes and restores: the final state must be one some write could have left.
  auto could_supersede = [](const WriteOp& mine, const std::vector<const WriteOp*>& others) {
    for (const WriteOp* o : others) {
      if (o->agent != mine.agent || o->begin_us > mine.begin_us) return true;
    }
    return false;
  };
  for (const auto& [id, ds] : deletes) {
    auto rec = observed.broker.find(id);
    if (rec == observed.broker.end() || rec->second.deleted) continue;
    for (const WriteOp* d : ds) {
      if (!d->acked) continue;
      auto it = restores.find(id);
      if (it != restores.end() && could_supersede(*d, it->second)) continue;
      lose(*d, Describe(*d) + ": " + id + " is not deleted and no restore could have followed");
    }
  }
  for (const auto& [id, rs] : restores) {
    auto rec = observed.broker.find(id);
    if (rec == observed.broker.end() || !rec->second.deleted) continue;
    for (const WriteOp* r : rs) {
      if (!r->acked) continue;
      auto it = deletes.find(id);
      if (it != deletes.end() && could_supersede(*r, it->second)) continue;
      lose(*r, Describe(*r) + ": " + id + " is deleted and no delete could have followed");
    }
  }

  // ---- referrals ----
  // agent -> id -> every listing of it there
  std::map<std::string, std::map<std::string, std::vector<const ReferralView*>>> listed;
  for (const auto& [agent, list] : observed.referrals) {
    for (const ReferralView& r : list) listed[agent][r.id].push_back(&r);
  }
  std::map<std::string, const ReferralOp*> sent;  // id -> its acknowledged send
  std::map<std::string, size_t> unknown_sends;    // agent -> sends without an answer
  for (const ReferralOp& op : history.referrals) {
    if (op.action != "send") continue;
    if (op.acked && !op.id.empty()) {
      sent[op.id] = &op;
    } else {
      unknown_sends[op.agent]++;
    }
  }
  auto one = [&](const std::string& agent, const std::string& id) -> const ReferralView* {
    auto a = listed.find(agent);
    if (a == listed.end()) return nullptr;
    auto r = a->second.find(id);
    return r == a->second.end() || r->second.empty() ? nullptr : r->second.front();
  };
  auto count = [&](const std::string& agent, const std::string& id) -> size_t {
    auto a = listed.find(agent);
    if (a == listed.end()) return 0;
    auto r = a->second.find(id);
    return r == a->second.end() ? 0 : r->second.size();
  };
  for (const auto& [id, op] : sent) {
    report.referrals_checked++;
    const std::string& a = op->agent;
    const std::string& b = op->to;
    size_t at_a = count(a, id), at_b = count(b, id);
    const ReferralView* ra = one(a, id);
    const ReferralView* rb = one(b, id);
    std::string tag = "referral " + id + " (" + a + " -> " + b + ")";
    if (at_a == 0) report.referral_problems.push_back(tag + ": lost from the sender's outbox");
    if (at_a > 1)
      report.referral_problems.push_back(tag + ": listed " + std::to_string(at_a) +
                                         " times by the sender");
    if (at_b > 1)
      report.referral_problems.push_back(tag + ": delivered " + std::to_string(at_b) +
                                         " times to the recipient");
    if (at_b == 0 && !(ra && ra->status == "cancelled")) {
      report.referral_problems.push_back(tag + ": never reached the recipient (sender says " +
                                         (ra ? ra->status : std::string("nothing")) + ")");
    }
    if (ra && rb && ra->status != rb->status) {
      report.referral_problems.push_back(tag + ": sender says " + ra->status + ", recipient " +
                                         rb->status);
    }
    for (const ReferralView* r : {ra, rb}) {
      if (!r) continue;
      if (r->waiting > 0) {
        report.referral_problems.push_back(tag + ": " + std::to_string(r->waiting) +
                                           " step(s) still waiting for the broker at the " +
                                           r->box);
      }
      std::set<std::string> seen;
      for (const std::string& act : r->actions) {
        if (!seen.insert(act).second) {
          report.referral_problems.push_back(tag + ": step '" + act + "' recorded twice in the " +
                                             r->box);
        }
      }
    }
  }
  for (const ReferralOp& op : history.referrals) {
    if (op.action == "send" || !op.acked) continue;
    const ReferralView* mine = one(op.agent, op.id);
    auto has = [&](const ReferralView* r) {
      return r && std::find(r->actions.begin(), r->actions.end(), op.action) != r->actions.end();
    };
    if (has(mine)) continue;
    if (mine && !mine->refused.empty()) continue;  // the broker refused it, and said so
    report.lost.push_back("referral " + op.id + ": '" + op.action + "' by " + op.agent +
                          " was acknowledged but is not in its steps" +
                          (mine ? " (status " + mine->status + ")" : " (not listed)"));
  }
  for (const auto& [agent, ids] : listed) {
    for (const auto& [id, views] : ids) {
      if (sent.count(id)) continue;
      const ReferralView* r = views.front();
      // The sender of an unanswered send may have sent it; anyone else's list must not hold it.
      std::string sender_agent;
      for (const auto& [name, org] : history.org_of) {
        if (org == r->sender) sender_agent = name;
      }
      if (unknown_sends[sender_agent] > 0) continue;
      report.phantoms.push_back(agent + " lists referral " + id + " from " + r->sender +
                                ", which no request sent");
    }
  }
  return report;
}

}  // namespace sb::nemesis
