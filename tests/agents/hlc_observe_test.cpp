// The agent's hybrid clock observes every stamp it applies (issue 16, part 4): a write made
// after the agent has seen a write w is stamped after w whatever its wall clock says, also
// after a restart and after a power loss drops what was not synced (the observation is saved in
// the batch of the update that brought it); a stamp far ahead of the broker's clock moves the
// clock only to the skew bound. LocalDirectory on a fault-injecting store, with the agent's
// wall clock offset from the broker's.
//
// The random histories run SB_HLC_HISTORIES times (default 8) from SB_HLC_SEED (default: a
// fresh seed, printed with any failure).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <random>

#include "agents/local_directory.h"
#include "store/fault_injection.h"
#include "testing/temp_dir.h"

namespace sb {
namespace {

constexpr uint64_t kStart = 1'790'000'000'000;  // the broker's clock at the start
constexpr int64_t kHour = 3600'000;
constexpr uint64_t kMaxSkew = 60'000;
constexpr ReplicaId kA = 0xa1;  // the agent under test
constexpr ReplicaId kM = 0x11;  // a maintainer's agent, whose writes reach A through the broker
const std::string kOrgA = "aaaaaaaa-0000-4000-8000-000000000001";

// The agent's wall clock: the broker's, off by `offset`; monotonic time runs with the broker's.
class SkewedClock final : public Clock {
 public:
  SkewedClock(Clock* base, int64_t offset) : base_(base), offset_(offset) {}
  uint64_t NowMillis() override { return base_->NowMillis() + offset_.load(); }
  uint64_t MonotonicMillis() override { return base_->MonotonicMillis(); }

 private:
  Clock* base_;
  std::atomic<int64_t> offset_;
};

RecordEdit Edit(std::map<std::string, Value> values) {
  RecordEdit e;
  e.id = kOrgA;
  e.kind = "organization";
  e.values = std::move(values);
  return e;
}

Hlc HighestStampOf(const Directory& d) {
  Hlc out;
  for (const auto& [id, r] : d.records()) out = std::max(out, HighestStamp(r));
  return out;
}

// Agent A's directory, restarted as a process would be: a plain restart, or a power loss that
// drops everything not synced.
class Agent {
 public:
  Agent(ManualClock* broker, int64_t offset) : broker_(broker), clock_(broker, offset) { Open(); }

  void Open() {
    StoreOptions o;
    o.create_if_missing = true;
    o.fault = &fault_;
    auto s = Store::Open(tmp_ / "agent", o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    auto d = LocalDirectory::Open(store_.get(), &clock_, {kA, kMaxSkew});
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    dir_ = std::move(d).value();
  }
  void Restart(bool power_loss) {
    dir_.reset();
    if (power_loss) fault_.Crash();
    store_.reset();
    if (power_loss) {
      ASSERT_TRUE(fault_.DropUnsyncedData().ok());
    }
    Open();
  }
  // What the sync session does with the broker's Welcome.
  void Welcome() { dir_->NoteBrokerClock(broker_->NowMillis()); }

  // A write by the maintainer's replica that has seen everything A holds, stamped `stamp`,
  // applied as the sync session applies an update; returns its status.
  Status Receive(const std::string& field, const std::string& value, Hlc stamp) {
    std::optional<Record> base = Find();
    if (!base) return Status::FailedPrecondition("A writes the record first");
    Record rec = base->WriteDelta(field, Value(value), kM, stamp);
    return dir_->ApplyRemote({RemoteDelta{Delta{kM, stamp, {rec}}, "coordinator"}}, ++cursor_);
  }

  // A's own edit of `field` (creating A's organization the first time); the stamp it was given.
  Hlc Write(const std::string& field, const std::string& value) {
    std::map<std::string, Value> values{{field, Value(value)}};
    if (!Find()) values[kOwnerField] = Value(kOrgA);
    auto r = dir_->Apply({Edit(std::move(values))}, "test");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::optional<Record> rec = Find();
    if (!rec || !rec->Register(field) || !rec->Register(field)->Displayed()) {
      ADD_FAILURE() << "no value of " << field;
      return Hlc{};
    }
    EXPECT_EQ(rec->Register(field)->size(), 1u) << "an edit made after seeing another conflicts";
    auto shown = rec->Register(field)->Displayed();
    EXPECT_EQ(shown->second.value, Value(value)) << "A's own edit is not what A shows";
    EXPECT_EQ(shown->first.replica, kA);
    return shown->second.stamp;
  }

  std::optional<Record> Find() const {
    return dir_->Read([](const Directory& d) -> std::optional<Record> {
      const Record* r = d.Find(kOrgA);
      return r ? std::optional<Record>(*r) : std::nullopt;
    });
  }
  Hlc Highest() const {
    return dir_->Read([](const Directory& d) { return HighestStampOf(d); });
  }

  ManualClock* broker_;
  SkewedClock clock_;
  FaultInjector fault_;
  testing::TempDir tmp_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<LocalDirectory> dir_;
  uint64_t cursor_ = 0;
};

TEST(AgentHlc, AnAgentTwoHoursBehindStampsItsEditAfterTheRemoteWriteItOverwrites) {
  ManualClock broker(kStart);
  Agent a(&broker, -2 * kHour);
  a.Welcome();
  Hlc created = a.Write("name", "Harbor Light");
  EXPECT_LT(created.millis(), kStart - kHour);  // stamped by A's own clock, 2 h behind

  broker.Advance(1'000);
  Hlc remote = Hlc::Make(broker.NowMillis(), 3);  // a maintainer's rename, stamped "now"
  ASSERT_TRUE(a.Receive("name", "Harbor Light (M)", remote).ok());
  EXPECT_EQ(a.Find()->Displayed("name"), Value("Harbor Light (M)"));

  broker.Advance(1'000);
  Hlc mine = a.Write("name", "Harbor Light Shelter");
  EXPECT_GT(mine, remote) << "A's edit is stamped before the value it overwrote";
  EXPECT_LT(mine.millis(), remote.millis() + 1'000);  // a counter step, not a clock jump

  // After a restart, and after a power loss, the clock is still past what A applied.
  broker.Advance(1'000);
  remote = Hlc::Make(broker.NowMillis(), 0);
  ASSERT_TRUE(a.Receive("name", "Harbor Light (M2)", remote).ok());
  a.Restart(/*power_loss=*/false);
  EXPECT_GT(a.Write("name", "After a restart"), remote);
  a.Welcome();  // as the sync session does before updates arrive

  broker.Advance(1'000);
  remote = Hlc::Make(broker.NowMillis(), 0);
  ASSERT_TRUE(a.Receive("name", "Harbor Light (M3)", remote).ok());
  a.Restart(/*power_loss=*/true);
  ASSERT_EQ(a.Find()->Displayed("name"), Value("Harbor Light (M3)")) << "a synced update was lost";
  // The update was saved (synced) but no edit of A's was made since: only the observation
  // carries the clock past it. A Welcome has not come yet after the restart.
  Hlc after = a.Write("name", "After a power loss");
  EXPECT_GT(after, remote);
}

// The update and its observation are one batch: a power loss that drops the update drops the
// observation with it (the clock may then be below the lost stamp: nothing holds it), and a
// batch replayed whole after a plain restart brings both.
TEST(AgentHlc, AnUpdateWhoseWalSyncFailedIsObservedIfAndOnlyIfItSurvives) {
  for (bool power_loss : {true, false}) {
    SCOPED_TRACE(power_loss ? "power loss" : "plain restart");
    ManualClock broker(kStart);
    Agent a(&broker, -2 * kHour);
    a.Welcome();
    a.Write("name", "Harbor Light");
    broker.Advance(1'000);
    Hlc remote = Hlc::Make(broker.NowMillis(), 7);
    a.fault_.FailWalSync(1);
    Status s = a.Receive("name", "Harbor Light (M)", remote);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), Code::kIoError) << s.ToString();
    a.Restart(power_loss);
    bool survived = a.Find()->Displayed("name") == Value("Harbor Light (M)");
    if (power_loss) {
      EXPECT_FALSE(survived) << "an unsynced update survived a power loss";
    }
    Hlc highest = a.Highest();
    EXPECT_EQ(highest >= remote, survived);
    Hlc mine = a.Write("name", "Mine");
    EXPECT_GT(mine, highest) << "an edit is stamped below a stamp the store holds";
  }
}

TEST(AgentHlc, AStampFarAheadOfTheBrokersClockMovesTheClockOnlyToTheBound) {
  ManualClock broker(kStart);
  Agent a(&broker, -2 * kHour);
  a.Welcome();
  a.Write("name", "Harbor Light");
  // A broken peer's stamp, 5 h ahead of the broker's clock (the broker refuses such pushes;
  // a broker whose clock was set back could still relay one): applied, but the clock follows
  // it only to the broker's time plus the skew allowed.
  Hlc broken = Hlc::Make(broker.NowMillis() + 5 * kHour, 0);
  ASSERT_TRUE(a.Receive("email", "far@future.example", broken).ok());
  EXPECT_EQ(a.Find()->Displayed("email"), Value("far@future.example"));
  EXPECT_LE(a.dir_->hlc_last().millis(), broker.NowMillis() + kMaxSkew);
  Hlc mine = a.Write("name", "Harbor Light Shelter");
  EXPECT_LE(mine.millis(), broker.NowMillis() + kMaxSkew);
  EXPECT_GT(mine.millis(), broker.NowMillis() + kMaxSkew - 1'000);
  // Nor after a restart (the stamp is in the store; the saved clock holds the bound).
  a.Restart(/*power_loss=*/true);
  EXPECT_LE(a.dir_->hlc_last().millis(), broker.NowMillis() + kMaxSkew);

  // Before any Welcome, the agent's own clock stands in for the broker's.
  ManualClock broker2(kStart);
  Agent b(&broker2, -2 * kHour);
  b.Write("name", "Harbor Light");
  ASSERT_TRUE(b.Receive("name", "Ahead", Hlc::Make(kStart, 0)).ok());
  EXPECT_LE(b.dir_->hlc_last().millis(), kStart - 2 * kHour + kMaxSkew);
}

// Random histories: an agent with a random clock offset receives maintainer writes stamped
// anywhere from an hour behind to the skew bound ahead of the broker's clock, edits, restarts,
// loses power (sometimes with an update's WAL sync failing just before); every edit it makes is
// stamped after every stamp its state holds.
TEST(AgentHlc, EveryEditIsStampedAfterEveryStampTheAgentHoldsInRandomHistories) {
  const char* env = std::getenv("SB_HLC_HISTORIES");
  int histories = env ? std::atoi(env) : 8;
  const char* seed_env = std::getenv("SB_HLC_SEED");
  uint64_t seed = seed_env ? std::strtoull(seed_env, nullptr, 10) : std::random_device{}();
  SCOPED_TRACE("SB_HLC_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  auto in = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  const char* fields[] = {"name", "email", "description"};
  for (int h = 0; h < histories && !::testing::Test::HasFailure(); ++h) {
    SCOPED_TRACE("history " + std::to_string(h));
    ManualClock broker(kStart);
    int64_t offset = in(-3 * kHour, static_cast<int64_t>(kMaxSkew) - 1'000);
    Agent a(&broker, offset);
    a.Welcome();
    a.Write("name", "Harbor Light");
    for (int step = 0; step < 12; ++step) {
      broker.Advance(static_cast<uint64_t>(in(0, 5'000)));
      const char* field = fields[in(0, 2)];
      std::string value = "v" + std::to_string(step) + "@example.org";  // valid for each field
      switch (in(0, 4)) {
        case 0:
        case 1: {
          int64_t ahead = in(-kHour, static_cast<int64_t>(kMaxSkew));
          Hlc stamp =
              Hlc::Make(static_cast<uint64_t>(static_cast<int64_t>(broker.NowMillis()) + ahead),
                        static_cast<uint16_t>(in(0, 5)));
          ASSERT_TRUE(a.Receive(field, value, stamp).ok());
          break;
        }
        case 2: {
          Hlc highest = a.Highest();
          Hlc mine = a.Write(field, value);
          ASSERT_GT(mine, highest) << "offset " << offset << " ms, step " << step;
          break;
        }
        case 3:
          a.Restart(/*power_loss=*/in(0, 1) == 1);
          a.Welcome();
          break;
        case 4: {
          Hlc stamp = Hlc::Make(broker.NowMillis(), static_cast<uint16_t>(in(0, 5)));
          a.fault_.FailWalSync(1);
          EXPECT_FALSE(a.Receive(field, value, stamp).ok());
          a.Restart(/*power_loss=*/in(0, 1) == 1);
          a.Welcome();
          break;
        }
      }
    }
    Hlc highest = a.Highest();
    ASSERT_GT(a.Write("name", "last"), highest) << "offset " << offset << " ms";
  }
}

}  // namespace
}  // namespace sb
