// Properties of specific concurrent scenarios on 3-5 replicas (DESIGN.md §4): each starts from
// a shared record, lets some replicas act concurrently, then delivers every delta to every other
// replica in a random order with random duplicates, and checks the outcome on every replica.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "conflict/codec.h"
#include "conflict/edit.h"
#include "conflict/field_schema.h"
#include "conflict/replica.h"
#include "conflict/views.h"

namespace sb {
namespace {

const char kId[] = "00000000-0000-4000-8000-000000000007";
const char kOwner[] = "00000000-0000-4000-8000-0000000000aa";
constexpr uint64_t kStart = 1'700'000'000'000;

Value T(const char* s) {
  return Value(std::string(s));
}

// Fields of a phone that partners edit, with valid values.
const std::vector<std::pair<std::string, std::vector<Value>>>& PhoneFields() {
  static const std::vector<std::pair<std::string, std::vector<Value>>> kFields = {
      {"description", {T("24h"), T("weekdays"), T("ask for Ana"), Value(Null{})}},
      {"type", {T("voice"), T("text"), T("cell")}},
      {"number", {T("+14155550123"), T("+2348031234567"), T("+525512345678")}},
      {"number@published", {T("+14155550123"), T("+2348031234567")}}};
  return kFields;
}

struct Cluster {
  std::vector<Replica> replicas;
  uint64_t now = kStart;

  explicit Cluster(int n) {
    for (int i = 0; i < n; ++i) replicas.emplace_back(ReplicaId(i + 1), FieldSchema::Hsds());
  }
  int size() const { return static_cast<int>(replicas.size()); }

  // Replica 0 creates the shared phone record and everyone receives it.
  void CreateShared() {
    Result<Delta> d = replicas[0].Set(
        kId, "phone", {{"owner", T(kOwner)}, {"description", T("base")}, {"type", T("fax")}}, now);
    RC_ASSERT(d.ok());
    for (int i = 1; i < size(); ++i) RC_ASSERT(replicas[i].Apply(*d, now).ok());
    AddElement(0, "languages", "es");
  }
  void AddElement(int r, const std::string& field, const std::string& e) {
    Result<Delta> d = replicas[r].AddElement(kId, field, e, now);
    RC_ASSERT(d.ok());
    for (int i = 0; i < size(); ++i) {
      if (i != r) RC_ASSERT(replicas[i].Apply(*d, now).ok());
    }
  }

  // Delivers each delta to every replica but its author, in a random order, some twice.
  void DeliverShuffled(const std::vector<Delta>& deltas) {
    std::vector<std::pair<size_t, int>> messages;  // (delta, receiver)
    for (size_t d = 0; d < deltas.size(); ++d) {
      for (int to = 0; to < size(); ++to) {
        if (replicas[to].id() == deltas[d].author) continue;
        messages.emplace_back(d, to);
        if (*rc::gen::weightedElement<bool>({{4, false}, {1, true}})) messages.emplace_back(d, to);
      }
    }
    for (size_t i = messages.size(); i > 1; --i) {
      std::swap(messages[i - 1], messages[*rc::gen::inRange<size_t>(0, i)]);
    }
    now += 5;
    for (auto [d, to] : messages) {
      RC_LOG() << "delta #" << d << " from r" << deltas[d].author << " -> r" << to + 1 << "\n";
      Status s = replicas[to].Apply(deltas[d], now);
      RC_ASSERT(s.ok());
    }
    for (const Replica& r : replicas) {
      RC_ASSERT(r.state() == replicas[0].state());
      RC_ASSERT(EncodeDirectory(r.state()) == EncodeDirectory(replicas[0].state()));
    }
  }
};

// Distinct replica indexes in random order; the first `count` act.
std::vector<int> Actors(int n, int count) {
  std::vector<int> all(n);
  for (int i = 0; i < n; ++i) all[i] = i;
  for (int i = n; i > 1; --i) std::swap(all[i - 1], all[*rc::gen::inRange(0, i)]);
  all.resize(count);
  return all;
}

RC_GTEST_PROP(CrdtScenario, ConcurrentWritesStayAsSiblingsAndDisplayTheSameEverywhere, ()) {
  Cluster c(*rc::gen::inRange(3, 6));
  c.CreateShared();
  const auto& [field, pool] = *rc::gen::elementOf(PhoneFields());
  std::vector<int> writers = Actors(c.size(), *rc::gen::inRange(2, c.size() + 1));
  std::vector<Delta> deltas;
  std::pair<Hlc, ReplicaId> best{};
  Value expected;
  for (int w : writers) {
    Value v = *rc::gen::elementOf(pool);
    uint64_t at = c.now + *rc::gen::inRange(0, 3);  // equal times tie on the replica id
    RC_LOG() << "r" << w + 1 << " writes " << field << "=" << ValueToString(v) << " at +"
             << at - c.now << "ms\n";
    Result<Delta> d = c.replicas[w].Set(kId, "phone", {{field, v}}, at);
    RC_ASSERT(d.ok());
    if (std::make_pair(d->stamp, d->author) > best) {
      best = {d->stamp, d->author};
      expected = v;
    }
    deltas.push_back(*d);
  }
  c.DeliverShuffled(deltas);
  for (const Replica& r : c.replicas) {
    const Record& rec = *r.state().Find(kId);
    RC_ASSERT(rec.Register(field)->size() == writers.size());
    RC_ASSERT(rec.Displayed(field) == expected);
    RC_ASSERT(rec.Register(field)->Displayed()->first.replica == best.second);
    std::vector<Conflict> conflicts = Conflicts(rec, FieldSchema::Hsds());
    RC_ASSERT(conflicts.size() == 1u);
    RC_ASSERT(conflicts[0].field == field);
    RC_ASSERT(conflicts[0].kind == ConflictKind::kSiblings);
    RC_ASSERT(conflicts[0].siblings.size() == writers.size());
    RC_ASSERT(conflicts[0].siblings[0].value == expected);
  }
}

RC_GTEST_PROP(CrdtScenario, AddWinsOverAConcurrentRemove, ()) {
  Cluster c(*rc::gen::inRange(3, 6));
  c.CreateShared();
  // Some replicas remove "es" while others re-add it; with no adder the removal wins.
  std::vector<int> actors = Actors(c.size(), c.size());
  int removers = *rc::gen::inRange(1, c.size() + 1);
  int adders = *rc::gen::inRange(0, c.size() - removers + 1);
  std::vector<Delta> deltas;
  for (int i = 0; i < removers + adders; ++i) {
    int r = actors[i];
    bool add = i >= removers;
    RC_LOG() << "r" << r + 1 << (add ? " adds" : " removes") << " languages 'es'\n";
    Result<Delta> d = add ? c.replicas[r].AddElement(kId, "languages", "es", c.now + 1)
                          : c.replicas[r].RemoveElement(kId, "languages", "es", c.now + 1);
    RC_ASSERT(d.ok());
    deltas.push_back(*d);
  }
  c.DeliverShuffled(deltas);
  for (const Replica& r : c.replicas) {
    const AwSet* set = r.state().Find(kId)->Set("languages");
    bool present = set && set->Contains("es");
    RC_ASSERT(present == (adders > 0));
    if (present) RC_ASSERT(set->raw().at("es").size() == static_cast<size_t>(adders));
  }
}

RC_GTEST_PROP(CrdtScenario, DeleteAgainstAConcurrentEditShowsDeletedAndKeepsTheEdit, ()) {
  Cluster c(*rc::gen::inRange(3, 6));
  c.CreateShared();
  std::vector<int> actors = Actors(c.size(), 2);
  int deleter = actors[0], editor = actors[1];
  const auto& [field, pool] = *rc::gen::elementOf(PhoneFields());
  Value v = *rc::gen::elementOf(pool);
  bool also_add = *rc::gen::arbitrary<bool>();
  RC_LOG() << "r" << deleter + 1 << " deletes; r" << editor + 1 << " writes " << field << "="
           << ValueToString(v) << (also_add ? " and adds 'fr'" : "") << "\n";
  std::vector<Delta> deltas;
  Result<Delta> del = c.replicas[deleter].Delete(kId, c.now + *rc::gen::inRange(0, 3));
  Result<Delta> edit = c.replicas[editor].Set(kId, "phone", {{field, v}}, c.now + 1);
  RC_ASSERT(del.ok() && edit.ok());
  deltas = {*del, *edit};
  if (also_add) {
    Result<Delta> add = c.replicas[editor].AddElement(kId, "languages", "fr", c.now + 1);
    RC_ASSERT(add.ok());
    deltas.push_back(*add);
  }
  c.DeliverShuffled(deltas);
  for (const Replica& r : c.replicas) {
    const Record& rec = *r.state().Find(kId);
    RC_ASSERT(rec.IsDeleted());
    RC_ASSERT(rec.Owner() == kOwner);
    RC_ASSERT(rec.Displayed(field) == v);
    RC_ASSERT(rec.Register(field)->size() == 1u);  // the value the editor replaced is gone
    // Fields nobody edited stay deleted; the languages set survives only through the new add.
    for (const char* untouched : {"description", "type"}) {
      if (field != untouched) RC_ASSERT(!rec.Displayed(untouched).has_value());
    }
    const AwSet* langs = rec.Set("languages");
    RC_ASSERT((langs != nullptr) == also_add);
    if (also_add) RC_ASSERT(langs->Elements() == std::vector<std::string>{"fr"});
    std::vector<std::string> reported;
    for (const Conflict& k : Conflicts(rec, FieldSchema::Hsds())) {
      RC_ASSERT(k.kind == ConflictKind::kEditedWhileDeleted);
      reported.push_back(k.field);
      if (k.field == field) RC_ASSERT(k.siblings.size() == 1u && k.siblings[0].value == v);
    }
    std::vector<std::string> want;
    if (also_add) want.push_back("languages");
    if (!field.ends_with("@published")) want.push_back(field);
    std::sort(want.begin(), want.end());
    RC_ASSERT(reported == want);
  }
}

RC_GTEST_PROP(CrdtScenario, ADeltaStampedBeyondTheSkewLimitIsRefusedAndChangesNothing, ()) {
  uint64_t skew = *rc::gen::inRange<uint64_t>(1, 120'000);
  uint64_t ahead = skew + *rc::gen::inRange<uint64_t>(1, 10'000'000);
  Replica receiver(1, FieldSchema::Hsds(), skew);
  Replica fast(2, FieldSchema::Hsds(), skew);
  Result<Delta> base = receiver.Set(kId, "phone", {{"type", T("voice")}}, kStart);
  RC_ASSERT(base.ok());
  RC_ASSERT(fast.Apply(*base, kStart).ok());
  int op = *rc::gen::inRange(0, 3);
  RC_LOG() << "skew " << skew << " ms; op " << op << " stamped " << ahead << " ms ahead\n";
  Result<Delta> d = op == 0   ? fast.Set(kId, "phone", {{"type", T("text")}}, kStart + ahead)
                    : op == 1 ? fast.AddElement(kId, "languages", "en", kStart + ahead)
                              : fast.Delete(kId, kStart + ahead);
  RC_ASSERT(d.ok());
  std::string before = EncodeDirectory(receiver.state());
  Hlc clock = receiver.clock().last();
  Status s = receiver.Apply(*d, kStart);
  RC_ASSERT(s.code() == Code::kInvalidArgument);
  RC_ASSERT(s.message().find("clock skew") != std::string::npos);
  RC_ASSERT(EncodeDirectory(receiver.state()) == before);
  RC_ASSERT(receiver.clock().last() == clock);
  // Once local time catches up to within the limit, the same delta is accepted.
  RC_ASSERT(receiver.Apply(*d, kStart + ahead - skew).ok());
  RC_ASSERT(receiver.state() == fast.state());
}

// A set write states its whole contents: concurrent with a write of other contents, every
// element either stated survives (add-wins), including one that was already there, which the
// other writer's removal had seen. (The nemesis test found a maintainer's stated element lost
// this way when only the elements a write added got a new dot.)
TEST(SetWriteScenario, EveryElementAWriteStatesSurvivesAConcurrentWriteOfOtherContents) {
  const FieldSchema& schema = FieldSchema::Hsds();
  const char kService[] = "00000000-0000-4000-8000-000000000009";
  RecordEdit create{kService,
                    "service",
                    {{"name", T("Shelter")}, {"organization_id", T(kOwner)}},
                    {{"categories", {"legal"}}}};
  auto made = PlanEdit(schema, nullptr, create, 1, Hlc::Make(kStart, 0));
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  Record shared = made.value().delta;

  RecordEdit a{kService, "service", {}, {{"categories", {"legal", "medical"}}}};
  RecordEdit b{kService, "service", {}, {{"categories", {"hotline"}}}};
  auto da = PlanEdit(schema, &shared, a, 2, Hlc::Make(kStart + 1, 0));
  auto db = PlanEdit(schema, &shared, b, 3, Hlc::Make(kStart + 1, 0));
  ASSERT_TRUE(da.ok() && db.ok());
  Record x = shared, y = shared;
  x.Join(da.value().delta);
  x.Join(db.value().delta);
  y.Join(db.value().delta);
  y.Join(da.value().delta);
  ASSERT_EQ(x, y);
  ASSERT_NE(x.Set("categories"), nullptr);
  EXPECT_EQ(x.Set("categories")->Elements(),
            (std::vector<std::string>{"hotline", "legal", "medical"}));

  // Writing the contents already there changes nothing.
  auto same = PlanEdit(
      schema, &x,
      RecordEdit{kService, "service", {}, {{"categories", {"medical", "legal", "hotline"}}}}, 2,
      Hlc::Make(kStart + 2, 0));
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same.value().empty());
  EXPECT_TRUE(same.value().changed.empty());
}

}  // namespace
}  // namespace sb
