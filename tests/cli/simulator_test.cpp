#include "sim/simulator.h"

#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>

#include "cli/commands.h"

namespace sb::sim {
namespace {

SimOptions Faulty(int replicas, uint64_t ops, uint64_t seed) {
  SimOptions o;
  o.replicas = replicas;
  o.ops = ops;
  o.seed = seed;
  o.dup = 0.2;
  o.drop = 0.1;
  o.reorder = true;
  o.partitions = 3;
  return o;
}

std::string LastLine(const std::string& text) {
  std::string s = text;
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s.substr(s.rfind('\n') + 1);
}

TEST(Simulator, SameOptionsGiveTheSameDigest) {
  SimReport a = RunSimulation(Faulty(4, 1500, 11), nullptr);
  SimReport b = RunSimulation(Faulty(4, 1500, 11), nullptr);
  EXPECT_EQ(a.digest_hex, b.digest_hex);
  EXPECT_EQ(a.messages_delivered, b.messages_delivered);
  EXPECT_EQ(a.conflicts_seen, b.conflicts_seen);
  EXPECT_EQ(a.refused_ops, b.refused_ops);
}

// Digests recorded before the simulators shared sim/network.h and sim/workload.h: a change
// that moves a draw or a word changes every run's digest, and must be deliberate. Recorded again
// when the field table became the whole HSDS 3.0 model (issue 11): the workload draws from the
// new fields.
TEST(Simulator, RecordedRunsKeepTheirDigests) {
  SimOptions plain;
  plain.seed = 7;
  EXPECT_EQ(RunSimulation(plain, nullptr).digest_hex,
            "54f62d12c775e8ac197f4a90610071c008d2762c5834469cd5083c8a84dc5184");
  SimOptions faulty;
  faulty.replicas = 5;
  faulty.ops = 3000;
  faulty.seed = 9;
  faulty.dup = 0.2;
  faulty.drop = 0.3;
  faulty.reorder = true;
  faulty.partitions = 4;
  SimReport r = RunSimulation(faulty, nullptr);
  EXPECT_EQ(r.digest_hex, "420d39aaef3180d3c1725013ef9967e00e059097b8ed0e9c9363b2d10dd9cb41");
  EXPECT_EQ(r.messages_sent, 11525u);
  EXPECT_EQ(r.messages_delivered, 7404u);
  EXPECT_EQ(r.messages_dropped, 5446u);
  EXPECT_EQ(r.messages_duplicated, 1325u);
}

TEST(Simulator, DifferentSeedsGiveDifferentDigests) {
  SimReport a = RunSimulation(Faulty(3, 500, 1), nullptr);
  SimReport b = RunSimulation(Faulty(3, 500, 2), nullptr);
  EXPECT_NE(a.digest_hex, b.digest_hex);
}

TEST(Simulator, ConvergesDespiteLossDuplicationReorderAndPartitions) {
  SimReport r = RunSimulation(Faulty(4, 2000, 7), nullptr);
  EXPECT_TRUE(r.converged) << r.failure;
  EXPECT_EQ(r.deltas_rejected, 0u);
  EXPECT_TRUE(r.failure.empty()) << r.failure;
  EXPECT_EQ(r.ops, 2000u);
  EXPECT_LT(r.refused_ops, r.ops);
  EXPECT_GT(r.conflicts_seen, 0u);
  EXPECT_GT(r.records, 0u);
  EXPECT_GT(r.messages_dropped, 0u);
  EXPECT_GT(r.messages_duplicated, 0u);
  EXPECT_GE(r.anti_entropy_rounds, 1u);
  EXPECT_LE(r.final_deleted_edits, r.final_conflicts);
  EXPECT_TRUE(std::regex_match(r.digest_hex, std::regex("[0-9a-f]{64}")));
}

TEST(Simulator, ConvergesWithoutFaults) {
  SimOptions o;
  o.replicas = 3;
  o.ops = 1000;
  SimReport r = RunSimulation(o, nullptr);
  EXPECT_TRUE(r.converged) << r.failure;
  EXPECT_EQ(r.messages_dropped, 0u);
  EXPECT_EQ(r.messages_duplicated, 0u);
}

TEST(Simulator, HeavyLossStillConvergesThroughAntiEntropyRetries) {
  SimOptions o = Faulty(3, 600, 5);
  o.drop = 0.6;
  SimReport r = RunSimulation(o, nullptr);
  EXPECT_TRUE(r.converged) << r.failure;
  EXPECT_GT(r.anti_entropy_rounds, 1u);
}

TEST(Simulator, OneReplicaSendsNothingAndConverges) {
  SimOptions o = Faulty(1, 300, 3);
  SimReport r = RunSimulation(o, nullptr);
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.messages_sent, 0u);
  EXPECT_EQ(r.conflicts_seen, 0u);
  EXPECT_GT(r.records, 0u);
}

TEST(Simulator, ZeroOpsConvergesOnTheEmptyDirectory) {
  SimReport r = RunSimulation(Faulty(3, 0, 3), nullptr);
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.records, 0u);
}

TEST(Simulator, SixtyFourReplicasConverge) {
  SimReport r = RunSimulation(Faulty(64, 200, 9), nullptr);
  EXPECT_TRUE(r.converged) << r.failure;
}

TEST(Simulator, ProgressGoesOnlyToTheProgressStream) {
  std::ostringstream progress;
  RunSimulation(Faulty(3, 400, 4), &progress);
  EXPECT_NE(progress.str().find("anti-entropy round 1"), std::string::npos);
}

TEST(PrintReport, EndsWithConvergedAndTheDigest) {
  SimOptions o = Faulty(3, 300, 2);
  SimReport r = RunSimulation(o, nullptr);
  std::ostringstream out;
  PrintReport(o, r, out);
  EXPECT_EQ(LastLine(out.str()), "converged " + r.digest_hex);
  EXPECT_NE(out.str().find("replicas 3, ops 300"), std::string::npos);
  EXPECT_NE(out.str().find("messages: sent "), std::string::npos);
  EXPECT_NE(out.str().find("conflicts seen: "), std::string::npos);
}

TEST(PrintReport, SaysDivergedAndWhyWhenNotConverged) {
  SimReport r;
  r.converged = false;
  r.digest_hex = std::string(64, 'a');
  r.failure = "replica 2 rejected a message";
  std::ostringstream out;
  PrintReport(SimOptions{}, r, out);
  EXPECT_EQ(LastLine(out.str()), "DIVERGED " + std::string(64, 'a'));
  EXPECT_NE(out.str().find("failure: replica 2 rejected"), std::string::npos);
}

// Parses a `switchboard sim` command line; returns -1 for a parse error (exit 2 in main).
int ParseSim(const std::string& args, int* exit_code) {
  CLI::App app;
  cli::AddSimCommand(app, *exit_code);
  try {
    app.parse("sim " + args, false);
  } catch (const CLI::ParseError&) {
    return -1;
  }
  return 0;
}

TEST(SimCommand, RefusesValuesOutOfRange) {
  int code = 0;
  for (const char* bad :
       {"--replicas 0", "--replicas 65", "--replicas x", "--ops -5", "--ops 1.5", "--seed -1",
        "--dup 1", "--drop -0.1", "--drop nan", "--dup 0x1p-2", "--partitions -1"}) {
    EXPECT_EQ(ParseSim(bad, &code), -1) << bad;
  }
}

TEST(SimCommand, RunsAndSetsExitCodeZeroWhenConverged) {
  int code = 7;
  ASSERT_EQ(ParseSim("--replicas 2 --ops 50 --seed 3 --dup 0.5 --drop 0.2 --reorder", &code), 0);
  EXPECT_EQ(code, 0);
}

}  // namespace
}  // namespace sb::sim
