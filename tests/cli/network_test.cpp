// The simulators' one lossy in-memory network (sim/network.h): delivery order, the faults it
// injects, and that a seed always gives the same run.
#include "sim/network.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace sb::sim {
namespace {

using Net = Network<std::string>;

std::vector<std::string> DrainAll(Net& net, uint64_t* now) {
  std::vector<std::string> out;
  while (!net.idle()) {
    *now = std::max(*now, net.next_due());
    while (auto m = net.PopDue(*now)) out.push_back(m->payload);
  }
  return out;
}

TEST(Network, WithoutFaultsDeliversEverythingInSendOrderAfterTheLatency) {
  Rng rng(1);
  Net net(2, NetworkFaults{}, rng);
  for (int i = 0; i < 5; ++i) net.Send(0, 1, std::to_string(i), 1, 100);
  EXPECT_FALSE(net.PopDue(100 + kLatencyMs - 1).has_value());
  uint64_t now = 100 + kLatencyMs;
  EXPECT_EQ(DrainAll(net, &now), (std::vector<std::string>{"0", "1", "2", "3", "4"}));
  EXPECT_EQ(net.stats().sent, 5u);
  EXPECT_EQ(net.stats().bytes, 5u);
  EXPECT_EQ(net.stats().delivered, 5u);
}

TEST(Network, DropsDuplicatesAndReordersAtRandom) {
  Rng rng(7);
  Net net(2, NetworkFaults{.drop = 0.3, .dup = 0.3, .reorder = true}, rng);
  for (int i = 0; i < 1000; ++i) net.Send(0, 1, std::to_string(i), 1, 0);
  uint64_t now = 0;
  std::vector<std::string> got = DrainAll(net, &now);
  const NetworkStats& s = net.stats();
  EXPECT_GT(s.dropped, 200u);
  EXPECT_LT(s.dropped, 400u);
  EXPECT_GT(s.duplicated, 100u);
  EXPECT_EQ(s.delivered, got.size());
  EXPECT_EQ(s.sent - s.dropped + s.duplicated, s.delivered);
  EXPECT_FALSE(std::is_sorted(got.begin(), got.end(), [](const auto& a, const auto& b) {
    return std::stoi(a) < std::stoi(b);
  }));
}

TEST(Network, TheSameSeedGivesTheSameDeliveries) {
  auto run = [](uint64_t seed) {
    Rng rng(seed);
    Net net(3, NetworkFaults{.drop = 0.2, .dup = 0.2, .reorder = true}, rng);
    for (int i = 0; i < 200; ++i) net.Send(i % 3, (i + 1) % 3, std::to_string(i), 1, i);
    uint64_t now = 0;
    return DrainAll(net, &now);
  };
  EXPECT_EQ(run(5), run(5));
  EXPECT_NE(run(5), run(6));
}

TEST(Network, APartitionCutsWhatCrossesItWhenSentAndWhenDue) {
  Rng rng(1);
  Net net(3, NetworkFaults{}, rng);
  net.Send(0, 1, "in flight", 1, 0);
  net.Partition({0, 1, 1});
  EXPECT_FALSE(net.Reachable(0, 1));
  EXPECT_TRUE(net.Reachable(1, 2));
  net.Send(0, 2, "across", 1, 0);
  net.Send(1, 2, "same side", 1, 0);
  uint64_t now = 0;
  EXPECT_EQ(DrainAll(net, &now), std::vector<std::string>{"same side"});
  EXPECT_EQ(net.stats().cut, 2u);
  net.Partition({});
  net.Send(0, 1, "healed", 1, now);
  EXPECT_EQ(DrainAll(net, &now), std::vector<std::string>{"healed"});
}

TEST(Network, ACrashLosesWhatIsInFlightAndWhatIsSentUntilRecovery) {
  Rng rng(1);
  Net net(2, NetworkFaults{}, rng);
  net.Send(0, 1, "before", 1, 0);
  net.Crash(1);
  net.Send(0, 1, "while down", 1, 0);
  net.Recover(1);
  net.Send(1, 0, "after", 1, 0);
  uint64_t now = 0;
  EXPECT_EQ(DrainAll(net, &now), std::vector<std::string>{"after"});
  EXPECT_EQ(net.stats().cut, 2u);
  EXPECT_EQ(net.stats().bytes, 2u);  // nothing reached the wire while down
}

TEST(PartitionPlan, EpisodesDoNotOverlapAndLeaveBothSidesNonEmpty) {
  Rng rng(3);
  std::vector<PartitionEpisode> plan = PlanPartitions(1000, 5, 4, rng);
  ASSERT_EQ(plan.size(), 5u);
  for (size_t i = 0; i < plan.size(); ++i) {
    EXPECT_LT(plan[i].start_op, plan[i].end_op);
    if (i > 0) {
      EXPECT_LE(plan[i - 1].end_op, plan[i].start_op);
    }
    EXPECT_GE(plan[i].group.size(), 1u);
    EXPECT_LE(plan[i].group.size(), 3u);
    EXPECT_TRUE(std::is_sorted(plan[i].group.begin(), plan[i].group.end()));
  }
  PartitionSchedule schedule(plan);
  size_t started = 0, ended = 0;
  for (uint64_t op = 0; op < 2000; ++op) {
    PartitionSchedule::Step step = schedule.At(op);
    started += step.started != nullptr;
    ended += step.ended != nullptr;
  }
  EXPECT_EQ(started, 5u);
  EXPECT_EQ(ended, 5u);
}

}  // namespace
}  // namespace sb::sim
