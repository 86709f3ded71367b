// Tombstone collection (broker/gc.h): the horizon as a pure function, then collection with a
// real broker and real agents' sessions on the session fixture's in-memory network (real
// RocksDB stores, a ManualClock).
#include "broker/gc.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>

#include "broker/broker_core.h"
#include "conflict/views.h"
#include "testing/edits.h"
#include "testing/session_fixture.h"

namespace sb {
namespace {

using testing::Uuid;

constexpr uint64_t kDay = 24 * 3'600'000ull;
constexpr uint64_t kNow = 1'790'000'000'000;

GcReplica Rep(ReplicaId id, uint64_t cursor, uint64_t acked_at, bool live = true,
              bool connected = false) {
  GcReplica r;
  r.replica = id;
  r.cursor = cursor;
  r.acked_at_ms = acked_at;
  r.member_live = live;
  r.connected = connected;
  return r;
}

TEST(GcHorizon, IsTheSmallestCursorOfTheLiveReplicas) {
  GcHorizon h = ComputeGcHorizon({Rep(1, 40, kNow), Rep(2, 25, kNow - kDay), Rep(3, 90, kNow)}, 100,
                                 kNow, 30 * kDay);
  EXPECT_EQ(h.seq, 25u);
  EXPECT_EQ(h.counted.size(), 3u);
  EXPECT_TRUE(h.stale.empty());
}

TEST(GcHorizon, IsTheLogHeadWithNoReplicaAndNeverPassesIt) {
  EXPECT_EQ(ComputeGcHorizon({}, 77, kNow, 30 * kDay).seq, 77u);
  EXPECT_EQ(ComputeGcHorizon({Rep(1, 500, kNow)}, 77, kNow, 30 * kDay).seq, 77u);
}

TEST(GcHorizon, AStaleReplicaIsIgnoredOnlyAfterTheMaximumAge) {
  std::vector<GcReplica> reps = {Rep(1, 90, kNow), Rep(2, 10, kNow - 30 * kDay)};
  // Exactly the maximum age: still counted.
  EXPECT_EQ(ComputeGcHorizon(reps, 100, kNow, 30 * kDay).seq, 10u);
  GcHorizon later = ComputeGcHorizon(reps, 100, kNow + 1, 30 * kDay);
  EXPECT_EQ(later.seq, 90u);
  ASSERT_EQ(later.stale.size(), 1u);
  EXPECT_EQ(later.stale[0], 2u);
}

TEST(GcHorizon, ARevokedReplicaIsIgnoredAtOnce) {
  GcHorizon h =
      ComputeGcHorizon({Rep(1, 90, kNow), Rep(2, 3, kNow, /*live=*/false)}, 100, kNow, 30 * kDay);
  EXPECT_EQ(h.seq, 90u);
  ASSERT_EQ(h.revoked.size(), 1u);
  EXPECT_EQ(h.revoked[0], 2u);
}

TEST(GcHorizon, AConnectedReplicaCountsHoweverOldItsLastAck) {
  GcHorizon h =
      ComputeGcHorizon({Rep(1, 90, kNow), Rep(2, 12, kNow - 400 * kDay, true, /*connected=*/true)},
                       100, kNow, 30 * kDay);
  EXPECT_EQ(h.seq, 12u);
  EXPECT_TRUE(h.stale.empty());
}

RC_GTEST_PROP(GcHorizon, NeverPassesTheCursorOfACountedReplica, ()) {
  auto cursors = *rc::gen::container<std::vector<uint64_t>>(rc::gen::inRange<uint64_t>(0, 1000));
  std::vector<GcReplica> reps;
  for (size_t i = 0; i < cursors.size(); ++i) {
    uint64_t age = *rc::gen::inRange<uint64_t>(0, 60 * kDay);
    reps.push_back(Rep(i + 1, cursors[i], kNow - age, *rc::gen::arbitrary<bool>(),
                       *rc::gen::arbitrary<bool>()));
  }
  uint64_t head = *rc::gen::inRange<uint64_t>(0, 1000);
  GcHorizon h = ComputeGcHorizon(reps, head, kNow, 30 * kDay);
  RC_ASSERT(h.seq <= head);
  for (const GcReplica& r : reps) {
    bool live_recent = r.member_live && (r.connected || kNow - r.acked_at_ms <= 30 * kDay);
    if (live_recent) RC_ASSERT(h.seq <= r.cursor);
  }
  RC_ASSERT(h.counted.size() + h.stale.size() + h.revoked.size() == reps.size());
}

// ---------- collection with a broker and agents ----------

const std::string kOrgA = Uuid(0xa);
const std::string kOrgM = Uuid(0xc);
const std::string kSvc = Uuid(0xa301);

RecordEdit Service(const std::string& id, const std::string& name) {
  RecordEdit e;
  e.id = id;
  e.kind = "service";
  e.values = {{"name", name}, {"owner", kOrgA}};
  return e;
}

RecordEdit Remove(const std::string& id) {
  RecordEdit e;
  e.id = id;
  e.kind = "service";
  e.remove = true;
  return e;
}

BrokerCore::Options GcOptions() {
  BrokerCore::Options o;
  o.gc_interval_ms = 3'600'000;         // each hour of the ManualClock
  o.gc_max_ack_age_ms = 2 * 3'600'000;  // stale after two hours away
  return o;
}

testing::SessionFixture::Options FixtureOptions() {
  testing::SessionFixture::Options o;
  o.broker = GcOptions();
  return o;
}

class GcTest : public ::testing::Test, public testing::SessionFixture {
 protected:
  GcTest() : SessionFixture(FixtureOptions()) {}
  using SessionFixture::Run;
  testing::SessionAgent& AddAgent(const std::string& org, Role role, ReplicaId replica) {
    return SessionFixture::AddAgent({org, role, replica, {}, true});
  }
  void SetUp() override {
    Status st = Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  // An hour passes: the broker's next pump runs a collection.
  void AnHourLater() {
    clock().Advance(3'600'001);
    Run();
  }
  static bool Holds(testing::SessionAgent& a, const std::string& id) {
    return a.dir->Read([&](const Directory& d) { return d.Find(id) != nullptr; });
  }
  bool BrokerHistoryEmpty(const std::string& id) {
    std::string prefix = id;
    prefix.push_back('\0');
    bool empty = true;
    Status st = broker_store().Scan(Cf::kHistory, prefix, "", [&](auto, auto) {
      empty = false;
      return false;
    });
    EXPECT_TRUE(st.ok());
    return empty;
  }
  template <typename T>
  static size_t Count(const testing::SessionAgent& a) {
    return static_cast<size_t>(
        std::count_if(a.received.begin(), a.received.end(),
                      [](const auto& m) { return std::holds_alternative<T>(m); }));
  }
};

TEST_F(GcTest, ADeletedRecordIsCollectedAtTheBrokerAndEveryAgent) {
  auto& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  auto& m = AddAgent(kOrgM, Role::kMaintainer, 0xc1);
  Connect(a);
  Connect(m);
  a.Apply({Service(kSvc, "Night shelter"), Service(Uuid(0xa302), "Hotline")});
  Run();
  a.Apply({Remove(kSvc)});
  Run();
  ASSERT_TRUE(Holds(m, kSvc));
  ASSERT_TRUE(core().state().Find(kSvc)->IsDeleted());
  AnHourLater();
  EXPECT_EQ(core().state().Find(kSvc), nullptr);
  Result<std::optional<Record>> stored = broker_store().GetRecord(kSvc);
  ASSERT_TRUE(stored.ok());
  EXPECT_FALSE(stored->has_value());
  EXPECT_TRUE(BrokerHistoryEmpty(kSvc));
  EXPECT_TRUE(core().CollectedAt(kSvc).has_value());
  EXPECT_FALSE(Holds(a, kSvc));
  EXPECT_FALSE(Holds(m, kSvc));
  Result<std::vector<HistoryEntry>> history = a.dir->History(kSvc);
  ASSERT_TRUE(history.ok());
  EXPECT_TRUE(history->empty());
  // The live record stays everywhere.
  EXPECT_TRUE(Holds(a, Uuid(0xa302)));
  EXPECT_TRUE(Holds(m, Uuid(0xa302)));
  EXPECT_EQ(a.sync->status().collected, 1u);
}

TEST_F(GcTest, ADisconnectedReplicaHoldsTheHorizonUntilItIsStale) {
  auto& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  auto& b = AddAgent(kOrgM, Role::kMaintainer, 0xc2);
  Connect(a);
  Connect(b);
  a.Apply({Service(kSvc, "Night shelter")});
  Run();
  Disconnect(b);
  a.Apply({Remove(kSvc)});
  Run();
  AnHourLater();  // b acknowledged less than two hours ago: the deletion waits for it
  ASSERT_NE(core().state().Find(kSvc), nullptr);
  EXPECT_LT(core().Horizon().seq, core().stats().log_head);
  AnHourLater();
  AnHourLater();  // now b is stale
  EXPECT_EQ(core().state().Find(kSvc), nullptr);
  EXPECT_EQ(core().Horizon().stale.size(), 1u);
  EXPECT_TRUE(Holds(b, kSvc));  // it has not heard yet
  size_t chunks_before = Count<proto::SnapshotChunk>(b);
  Connect(b);
  Run();
  EXPECT_FALSE(Holds(b, kSvc));
  EXPECT_GT(Count<proto::SnapshotChunk>(b), chunks_before);  // a checkpoint, not the log
  EXPECT_GT(Count<proto::Collected>(b), 0u);
}

TEST_F(GcTest, ARevokedReplicaDoesNotHoldTheHorizon) {
  auto& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  auto& r = AddAgent(Uuid(0xb), Role::kPartner, 0xb1);
  Connect(a);
  Connect(r);
  Run();
  Disconnect(r);
  a.Apply({Service(kSvc, "Night shelter")});
  Run();
  a.Apply({Remove(kSvc)});
  Run();
  ASSERT_TRUE(roster().Revoke(Uuid(0xb), clock().NowMillis()).ok());
  GcHorizon h = core().Horizon();
  EXPECT_EQ(h.revoked.size(), 1u);
  AnHourLater();
  EXPECT_EQ(core().state().Find(kSvc), nullptr);
}

TEST_F(GcTest, AStaleAgentsEditOfACollectedRecordGoesToReviewAndDoesNotResurrectIt) {
  auto& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  auto& b = AddAgent(kOrgM, Role::kMaintainer, 0xc2);
  Connect(a);
  Connect(b);
  a.Apply({Service(kSvc, "Night shelter")});
  Run();
  Disconnect(b);
  b.Apply({Service(kSvc, "Night shelter (new hours)")});  // queued while away
  a.Apply({Remove(kSvc)});
  Run();
  for (int i = 0; i < 3; ++i) AnHourLater();
  ASSERT_TRUE(core().CollectedAt(kSvc).has_value());
  Connect(b);
  Run();
  EXPECT_EQ(core().state().Find(kSvc), nullptr);
  EXPECT_FALSE(Holds(a, kSvc));
  EXPECT_FALSE(Holds(b, kSvc));  // taken back, then dropped
  EXPECT_EQ(b.dir->outbox_depth(), 0u);
  Result<std::vector<Rejection>> rejections = b.dir->Rejections(10);
  ASSERT_TRUE(rejections.ok());
  ASSERT_EQ(rejections->size(), 1u);
  EXPECT_NE(rejections->front().reason.find("was deleted and collected on"), std::string::npos)
      << rejections->front().reason;
  Result<std::vector<RefusedPush>> review = core().journal().Refusals();
  ASSERT_TRUE(review.ok());
  ASSERT_EQ(review->size(), 1u);
  EXPECT_NE(review->front().reason.find("record " + kSvc + " was deleted and collected on"),
            std::string::npos);
  ASSERT_EQ(review->front().changes.size(), 1u);
  EXPECT_EQ(review->front().changes[0].record, kSvc);
}

TEST_F(GcTest, CollectedIdsSurviveARestartAndAMaintainerCannotWriteOne) {
  auto& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  AddAgent(kOrgM, Role::kMaintainer, 0xc1);
  Connect(a);
  a.Apply({Service(kSvc, "Night shelter")});
  Run();
  a.Apply({Remove(kSvc)});
  Run();
  AnHourLater();
  ASSERT_TRUE(core().CollectedAt(kSvc).has_value());
  RestartBroker();
  EXPECT_TRUE(core().CollectedAt(kSvc).has_value());
  EXPECT_EQ(core().state().Find(kSvc), nullptr);
  RecordEdit e = Service(kSvc, "Back again");
  Result<uint64_t> wrote = core().ApplyMaintainerEdit({e}, kOrgM);
  ASSERT_FALSE(wrote.ok());
  EXPECT_EQ(wrote.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(wrote.status().message().find("was deleted and collected"), std::string::npos);
  EXPECT_EQ(core().state().Find(kSvc), nullptr);
}

TEST_F(GcTest, ADeleteWithASurvivingConcurrentEditIsNotCollected) {
  auto& a = AddAgent(kOrgA, Role::kPartner, 0xa1);
  auto& b = AddAgent(kOrgM, Role::kMaintainer, 0xc2);
  Connect(a);
  Connect(b);
  a.Apply({Service(kSvc, "Night shelter")});
  Run();
  Disconnect(b);
  b.Apply({Service(kSvc, "Night shelter (new hours)")});
  a.Apply({Remove(kSvc)});
  Run();
  Connect(b);
  Run();  // b's edit is concurrent with the delete: it survives (add-wins)
  ASSERT_NE(core().state().Find(kSvc), nullptr);
  AnHourLater();
  EXPECT_NE(core().state().Find(kSvc), nullptr);
  EXPECT_FALSE(core().CollectedAt(kSvc).has_value());
}

}  // namespace
}  // namespace sb
