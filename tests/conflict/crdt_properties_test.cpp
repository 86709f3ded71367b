// Properties of the whole CRDT (DESIGN.md §4): random operation histories on 3-5 replicas over a
// small pool of records, delivered in random order with duplication, loss-then-retry and
// partitions (crdt_history.h). On failure RapidCheck prints the shrunk history (the generated
// steps) and the log of what each step did; RC_PARAMS="replay=..." reruns it.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "conflict/codec.h"
#include "conflict/replica.h"
#include "conflict/views.h"
#include "tests/conflict/crdt_history.h"

namespace sb {
namespace {

Directory Joined(std::initializer_list<const Directory*> parts) {
  Directory out;
  for (const Directory* d : parts) out.Join(*d);
  return out;
}

void AssertSame(const Directory& a, const Directory& b) {
  if (!(a == b)) RC_LOG() << "states differ:\n" << Describe(a) << "versus:\n" << Describe(b);
  RC_ASSERT(a == b);
  RC_ASSERT(EncodeDirectory(a) == EncodeDirectory(b));
}

RC_GTEST_PROP(CrdtLaws, JoinIsCommutativeAssociativeAndIdempotent, ()) {
  History h = *GenHistory();
  auto w = Play(h);
  std::vector<Directory> states = w->snapshots;
  for (const Replica& r : w->replicas) states.push_back(r.state());
  size_t n = states.size();
  const Directory& a = states[*rc::gen::inRange<size_t>(0, n)];
  const Directory& b = states[*rc::gen::inRange<size_t>(0, n)];
  const Directory& c = states[*rc::gen::inRange<size_t>(0, n)];
  AssertSame(Joined({&a, &b}), Joined({&b, &a}));
  Directory ab = Joined({&a, &b}), bc = Joined({&b, &c});
  AssertSame(Joined({&ab, &c}), Joined({&a, &bc}));
  AssertSame(Joined({&a, &a}), a);
  AssertSame(Joined({&ab, &b}), ab);  // joining what is already included changes nothing
  for (const auto& [id, ra] : a.records()) {
    const Record* rb = b.Find(id);
    if (!rb) continue;
    Record x = ra, y = *rb;
    x.Join(*rb);
    y.Join(ra);
    RC_ASSERT(x == y);
    RC_ASSERT(EncodeRecord(x) == EncodeRecord(y));
  }
}

RC_GTEST_PROP(CrdtLaws, DeltasJoinedInAnyOrderEqualTheJoinOfFullStates, ()) {
  History h = *GenHistory();
  auto w = Play(h);
  std::vector<size_t> order(w->deltas.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (size_t i = order.size(); i > 1; --i) {
    std::swap(order[i - 1], order[*rc::gen::inRange<size_t>(0, i)]);
  }
  Directory from_deltas, from_states;
  for (size_t i : order) from_deltas.Join(w->deltas[i]);
  for (const Replica& r : w->replicas) from_states.Join(r.state());
  AssertSame(from_deltas, from_states);
  // Each replica's state is the join of the deltas it authored and the ones it received.
  for (const Replica& r : w->replicas) {
    Directory own;
    for (const Delta& d : w->deltas) {
      if (d.author == r.id()) own.Join(d);
    }
    AssertSame(Joined({&r.state(), &own}), r.state());
  }
}

RC_GTEST_PROP(CrdtLaws, RandomDeliveryConvergesToEqualStatesAndViews, ()) {
  History h = *GenHistory();
  auto w = Play(h);
  w->DeliverAll(h.final_picks);
  const FieldSchema& schema = FieldSchema::Hsds();
  const Directory& first = w->replicas[0].state();
  Directory all;
  for (const Delta& d : w->deltas) all.Join(d);
  AssertSame(first, all);  // nothing lost, nothing invented
  for (const Replica& r : w->replicas) {
    AssertSame(r.state(), first);
    for (const auto& [id, rec] : r.state().records()) {
      const Record& other = *first.Find(id);
      RC_ASSERT(ProposedView(rec, schema) == ProposedView(other, schema));
      RC_ASSERT(PublishedView(rec, schema) == PublishedView(other, schema));
      RC_ASSERT(Conflicts(rec, schema) == Conflicts(other, schema));
    }
  }
  bool siblings = false, edited_while_deleted = false;
  for (const auto& [id, rec] : first.records()) {
    for (const Conflict& c : Conflicts(rec, schema)) {
      siblings |= c.kind == ConflictKind::kSiblings;
      edited_while_deleted |= c.kind == ConflictKind::kEditedWhileDeleted;
    }
  }
  RC_CLASSIFY(siblings, "siblings");
  RC_CLASSIFY(edited_while_deleted, "edited while deleted");
}

RC_GTEST_PROP(CrdtLaws, HistoryStatesAndDeltasSurviveEncoding, ()) {
  History h = *GenHistory();
  auto w = Play(h);
  for (const Replica& r : w->replicas) {
    Result<Directory> back = DecodeDirectory(EncodeDirectory(r.state()));
    RC_ASSERT(back.ok());
    RC_ASSERT(*back == r.state());
  }
  for (const Delta& d : w->deltas) {
    Result<Delta> back = DecodeDelta(EncodeDelta(d));
    RC_ASSERT(back.ok());
    RC_ASSERT(*back == d);
  }
}

}  // namespace
}  // namespace sb
