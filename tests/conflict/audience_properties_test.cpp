// Properties of audience filtering (views.h HideFields, AudienceView) and of taking back a
// refused edit (record.h Retract), over the states and deltas of random operation histories
// (crdt_history.h). RC_PARAMS="replay=..." reruns a failure.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "conflict/codec.h"
#include "conflict/internal/access.h"
#include "conflict/views.h"
#include "tests/conflict/crdt_history.h"

namespace sb {
namespace {

constexpr char kOrgA[] = "00000000-0000-4000-8000-0000000000aa";  // owns the pool's organization
constexpr char kOrgB[] = "00000000-0000-4000-8000-0000000000bb";

// Every state and record delta of `id` a history produced.
std::vector<Record> Versions(const World& w, const std::string& id) {
  std::vector<Record> out;
  for (const Directory& d : w.snapshots) {
    if (const Record* r = d.Find(id)) out.push_back(*r);
  }
  for (const Replica& rep : w.replicas) {
    if (const Record* r = rep.state().Find(id)) out.push_back(*r);
  }
  for (const Delta& d : w.deltas) {
    for (const Record& r : d.records) {
      if (r.id() == id) out.push_back(r);
    }
  }
  return out;
}

Record Join(Record a, const Record& b) {
  a.Join(b);
  return a;
}

void AssertSameRecord(const Record& a, const Record& b) {
  if (!(a == b)) RC_LOG() << "records differ:\n" << Describe(a) << "versus:\n" << Describe(b);
  RC_ASSERT(a == b);
  RC_ASSERT(EncodeRecord(a) == EncodeRecord(b));
}

rc::Gen<Reader> GenReader() {
  return rc::gen::exec([] {
    return Reader{*rc::gen::element<std::string>(kOrgA, kOrgB, "\x01partners"),
                  *rc::gen::arbitrary<bool>()};
  });
}

// A random subset of the pool record's field names (shadows included).
std::set<std::string> GenFieldNames(const PoolRecord& p) {
  std::set<std::string> out;
  for (const auto& [name, values] : p.scalars) {
    if (*rc::gen::arbitrary<bool>()) out.insert(name);
  }
  for (const auto& [name, elements] : p.sets) {
    if (*rc::gen::arbitrary<bool>()) out.insert(name);
  }
  for (const char* name : {kDeletedField, kOwnerField}) {
    if (*rc::gen::arbitrary<bool>()) out.insert(name);
  }
  return out;
}

// What broker/ingest.cpp FilterFor did to each record before AudienceView: a copy, each
// hidden field's dots forgotten one by one.
Record FilterRecordAsBefore(const Record& r, const Reader& reader, const FieldSchema& schema,
                            const Record* current) {
  const Record& basis = current ? *current : r;
  bool is_owner = basis.Owner() == reader.organization || r.Owner() == reader.organization;
  Record copy = r;
  auto& fields = internal::Access::Fields(copy);
  for (auto it = fields.begin(); it != fields.end();) {
    const FieldSpec* spec = schema.Field(r.kind(), it->first);
    bool visible = spec && CanRead(EffectiveAudience(basis, *spec), is_owner, reader.maintainer) &&
                   CanRead(EffectiveAudience(r, *spec), is_owner, reader.maintainer);
    if (visible) {
      ++it;
      continue;
    }
    CausalContext hidden;
    std::visit([&](const auto& field) { field.CollectDots(&hidden); }, it->second);
    for (const auto& [replica, n] : hidden.vector()) {
      for (uint64_t c = 1; c <= n; ++c) internal::Access::Context(copy).Remove(Dot{replica, c});
    }
    for (const Dot& d : hidden.cloud()) internal::Access::Context(copy).Remove(d);
    it = fields.erase(it);
  }
  return copy;
}

// What agents/local_directory.cpp SettleOutbox did before Retract.
Record RetractAsBefore(const Record& base, const Record& refused, ReplicaId replica,
                       const Record* issued) {
  Record next = base;
  for (const auto& [r, n] : refused.context().vector()) {
    if (r != replica) continue;
    for (uint64_t c = 1; c <= n; ++c) internal::Access::Context(next).Add(Dot{r, c});
  }
  for (const Dot& dot : refused.context().cloud()) {
    if (dot.replica == replica) internal::Access::Context(next).Add(dot);
  }
  if (issued) {
    for (const auto& [r, n] : issued->context().vector()) {
      if (r == replica) internal::Access::Context(next).Add(Dot{r, n});
    }
  }
  return next;
}

// Runs `check` on a few random pairs of versions of each pool record.
template <typename Check>
void ForPairsOfVersions(const World& w, const Check& check) {
  for (const PoolRecord& p : Pool()) {
    std::vector<Record> versions = Versions(w, p.id);
    if (versions.empty()) continue;
    for (int pair = 0; pair < 4; ++pair) {
      const Record& a = *rc::gen::elementOf(versions);
      const Record& b = *rc::gen::elementOf(versions);
      check(p, a, b, versions);
    }
  }
}

// --- HideFields: for a fixed set of hidden fields, filtering and joining commute. ---

RC_GTEST_PROP(AudienceLaws, HidingFieldsThenJoiningEqualsJoiningThenHiding, ()) {
  auto w = Play(*GenHistory());
  ForPairsOfVersions(*w, [](const PoolRecord& p, const Record& a, const Record& b, const auto&) {
    std::set<std::string> names = GenFieldNames(p);
    auto hidden = [&names](const std::string& f) { return names.count(f) > 0; };
    Record ha = HideFields(a, hidden), hb = HideFields(b, hidden);
    AssertSameRecord(HideFields(Join(a, b), hidden), Join(ha, hb));
    AssertSameRecord(HideFields(ha, hidden), ha);  // idempotent
    // Nothing hidden is left, in the fields or as a seen write; everything else is kept.
    for (const auto& [name, f] : a.fields()) {
      CausalContext dots;
      std::visit([&](const auto& x) { x.CollectDots(&dots); }, f);
      if (hidden(name)) {
        RC_ASSERT(ha.fields().count(name) == 0u);
        CausalContext overlap = dots;
        overlap.Subtract(ha.context());
        RC_ASSERT(overlap == dots);
      } else {
        RC_ASSERT(ha.fields().at(name) == f);
      }
    }
    RC_CLASSIFY(ha.fields().size() < a.fields().size(), "something hidden");
  });
}

// --- AudienceView ---

RC_GTEST_PROP(AudienceLaws, AViewJoinsIntoItsStateWithoutErasingWhatItHid, ()) {
  auto w = Play(*GenHistory());
  const FieldSchema& schema = FieldSchema::Hsds();
  Reader reader = *GenReader();
  ForPairsOfVersions(*w, [&](const PoolRecord&, const Record& a, const Record& b, const auto&) {
    Record v = AudienceView(a, reader, schema);
    // The view is below its state: joining the state later (e.g. when an address stops being
    // confidential) brings every hidden value back, and anything joined between loses none.
    AssertSameRecord(Join(a, v), a);
    AssertSameRecord(Join(Join(b, v), a), Join(b, a));
    for (const auto& [name, f] : v.fields()) RC_ASSERT(ReaderMaySee(a, name, reader, schema));
    RC_CLASSIFY(v.fields().size() < a.fields().size(), "something hidden");
  });
}

// The law holds when the reader's audience is the same on a, b and a ⊔ b; it differs when the
// join changes who may read a field (a location's address becoming confidential, an owner
// being written), because the view of a state is judged on that state: see views.h.
RC_GTEST_PROP(AudienceLaws, FilteringThenJoiningEqualsJoiningThenFilteringForAFixedAudience, ()) {
  auto w = Play(*GenHistory());
  const FieldSchema& schema = FieldSchema::Hsds();
  Reader reader = *GenReader();
  ForPairsOfVersions(*w, [&](const PoolRecord&, const Record& a, const Record& b,
                             const std::vector<Record>& versions) {
    size_t pick = *rc::gen::inRange<size_t>(0, versions.size() + 1);  // versions.size(): none
    const Record* basis = pick < versions.size() ? &versions[pick] : nullptr;
    Record ab = Join(a, b);
    bool same_audience = true;
    for (const Record* x : std::initializer_list<const Record*>{&a, &b, &ab}) {
      for (const auto& [name, f] : x->fields()) {
        bool sees = ReaderMaySee(ab, name, reader, schema, basis);
        same_audience = same_audience && ReaderMaySee(a, name, reader, schema, basis) == sees &&
                        ReaderMaySee(b, name, reader, schema, basis) == sees;
      }
    }
    RC_CLASSIFY(same_audience, "same audience");
    if (!same_audience) return;
    Record va = AudienceView(a, reader, schema, basis), vb = AudienceView(b, reader, schema, basis);
    AssertSameRecord(AudienceView(ab, reader, schema, basis), Join(va, vb));
    RC_CLASSIFY(va.fields().size() < a.fields().size(), "something hidden");
  });
}

RC_GTEST_PROP(AudienceLaws, AudienceViewIsWhatTheBrokerSentBefore, ()) {
  auto w = Play(*GenHistory());
  const FieldSchema& schema = FieldSchema::Hsds();
  Reader reader = *GenReader();
  ForPairsOfVersions(*w, [&](const PoolRecord&, const Record& a, const Record& b, const auto&) {
    const Record* current = *rc::gen::arbitrary<bool>() ? &b : nullptr;
    AssertSameRecord(AudienceView(a, reader, schema, current),
                     FilterRecordAsBefore(a, reader, schema, current));
  });
}

// --- Retract: a refused edit taken back ---

// A refused delta of one replica, the deltas the authority holds (the rest of that replica's
// deltas are refused as well) and the deltas of a state that never saw a refused one.
struct Refusal {
  ReplicaId replica = 0;
  Record refused;
  Record base, issued, other;
};

// The refused delta is a random one of the history's, and one of its records.
Refusal GenRefusal(const World& w) {
  RC_PRE(!w.deltas.empty());
  size_t refused_delta = *rc::gen::inRange<size_t>(0, w.deltas.size());
  Refusal f;
  f.replica = w.deltas[refused_delta].author;
  f.refused = *rc::gen::elementOf(w.deltas[refused_delta].records);
  const std::string id = f.refused.id();
  f.base = f.other = Record(id, f.refused.kind());
  for (size_t i = 0; i < w.deltas.size(); ++i) {
    const Delta& d = w.deltas[i];
    if (i == refused_delta) continue;
    bool accepted = *rc::gen::arbitrary<bool>();
    for (const Record& r : d.records) {
      if (r.id() != id) continue;
      if (accepted) f.base.Join(r);
      // Another state gets only writes that were not refused.
      if ((accepted || d.author != f.replica) && *rc::gen::arbitrary<bool>()) f.other.Join(r);
    }
  }
  const Record* mine = w.replicas[f.replica - 1].state().Find(id);
  f.issued = mine ? *mine : Record(id, f.refused.kind());
  return f;
}

RC_GTEST_PROP(RetractLaws, ATakenBackEditLeavesTheBaseValuesAndKeepsItsDots, ()) {
  auto w = Play(*GenHistory());
  Refusal f = GenRefusal(*w);
  Record t = Retract(f.base, f.refused, f.replica, &f.issued);
  // The values are the base's, none of the refused edit's.
  RC_ASSERT(t.fields() == f.base.fields());
  RC_ASSERT(t.context().Includes(f.base.context()));
  // Every dot of the replica the refused edit names is seen, and the replica's next write to
  // the record follows them all (no dot is issued twice).
  uint64_t highest = 0;
  for (const auto& [r, n] : f.refused.context().vector()) {
    if (r == f.replica) highest = n;
  }
  for (const Dot& dot : f.refused.context().cloud()) {
    if (dot.replica == f.replica) {
      RC_ASSERT(t.context().Contains(dot));
      highest = std::max(highest, dot.counter);
    }
  }
  for (uint64_t c = 1; c <= highest; ++c) {
    if (f.refused.context().Contains(Dot{f.replica, c})) {
      RC_ASSERT(t.context().Contains(Dot{f.replica, c}));
    }
  }
  RC_ASSERT(t.context().Next(f.replica).counter > highest);
  // Nothing else is added: what the context gained are the replica's own dots.
  CausalContext gained = t.context();
  gained.Subtract(f.base.context());
  for (const auto& [r, n] : gained.vector()) RC_ASSERT(r == f.replica);
  for (const Dot& dot : gained.cloud()) RC_ASSERT(dot.replica == f.replica);
  // The same as SettleOutbox computed before Retract existed.
  AssertSameRecord(t, RetractAsBefore(f.base, f.refused, f.replica, &f.issued));
  AssertSameRecord(Retract(f.base, f.refused, f.replica),
                   RetractAsBefore(f.base, f.refused, f.replica, nullptr));
}

RC_GTEST_PROP(RetractLaws, ATakenBackEditJoinsAsIfItHadNotBeenMade, ()) {
  auto w = Play(*GenHistory());
  Refusal f = GenRefusal(*w);
  // Joining a state that never saw the refused writes gives the base's join with it, with the
  // taken-back dots kept: taking back commutes with joining.
  Record t = Retract(f.base, f.refused, f.replica, &f.issued);
  AssertSameRecord(Join(t, f.other),
                   Retract(Join(f.base, f.other), f.refused, f.replica, &f.issued));
  RC_ASSERT(Join(t, f.other).fields() == Join(f.base, f.other).fields());
  AssertSameRecord(Join(f.other, t), Join(t, f.other));
  RC_CLASSIFY(f.base.fields() != f.refused.fields(), "values taken back");
}

}  // namespace
}  // namespace sb
