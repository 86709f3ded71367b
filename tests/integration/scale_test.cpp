// Issue 15: a network of real processes converges without a single session restart — a
// `switchboard broker`, SB_SCALE_AGENTS partner agents (default 30) and a maintainer agent,
// each with its own RocksDB, over CURVE on loopback, all on this machine's two cores. The
// maintainer imports a generated directory while every partner is connected; every partner
// must end with the same directory as the maintainer's view of it, at the broker's head, and
// neither the broker nor any agent may have started a session over (the livelock that kept 100
// agents from ever converging). Then a single edit must reach them all. (The 200-agent check
// is `switchboard bench scale`, not part of the suite.)
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/integration/sync_process.h"

namespace sb::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string OrgId(size_t i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "5ca1e000-0000-4000-8000-%012zx", i & 0xffffffffffff);
  return buf;
}

uint64_t U64(const json& j, const char* k) {
  return j.is_object() && j.contains(k) && j[k].is_number_unsigned() ? j[k].get<uint64_t>() : 0;
}

size_t Agents() {
  const char* n = std::getenv("SB_SCALE_AGENTS");
  return n && *n ? std::strtoul(n, nullptr, 10) : 30;
}

TEST(Scale, ThirtyRealAgentsConvergeWithoutASessionRestart) {
  TempDir tmp;
  auto broker = BrokerProcess::Create(tmp / "broker");
  ASSERT_TRUE(broker.ok()) << broker.status().ToString();
  ASSERT_TRUE((*broker)->Start().ok());
  const size_t n = Agents();
  // Every data directory made and enrolled first, then the agents started together.
  ASSERT_TRUE(InitDataDir(tmp / "m", OrgId(0xffff)).ok());
  ASSERT_TRUE((*broker)->Enroll(tmp / "m", "maintainer").ok());
  for (size_t i = 0; i < n; ++i) {
    std::string dir = tmp / ("p" + std::to_string(i));
    ASSERT_TRUE(InitDataDir(dir, OrgId(i)).ok());
    ASSERT_TRUE((*broker)->Enroll(dir, "partner").ok());
  }
  std::vector<std::unique_ptr<AgentProcess>> partners;
  for (size_t i = 0; i < n; ++i) {
    ProcessSpec spec;
    spec.log_name = "p" + std::to_string(i) + ".log";
    auto a = AgentProcess::Launch(tmp / ("p" + std::to_string(i)), (*broker)->AgentArgs(), spec);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    partners.push_back(std::move(a).value());
  }
  for (auto& a : partners) ASSERT_TRUE(a->WaitUntilReady(60s).ok()) << Tail(a->LogPath());
  auto m = StartSyncingAgent(tmp / "m", **broker);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  for (auto& a : partners) ASSERT_TRUE(WaitUntilSyncReady(*a, 60s)) << Tail(a->LogPath());
  ASSERT_TRUE(WaitUntilSyncReady(**m, 60s));

  // The maintainer imports a directory while everyone is connected.
  const char* generator = std::getenv("SAMPLE_GENERATOR");
  ASSERT_TRUE(generator && *generator) << "SAMPLE_GENERATOR is not set (run via meson test)";
  std::string doc_path = tmp / "directory.json";
  auto gen = RunCommand({"/usr/bin/env", "python3", generator, "--orgs", "60", "--seed", "3",
                         "--out", doc_path, "--quiet"},
                        60s);
  ASSERT_TRUE(gen.ok() && gen->exit_code == 0)
      << (gen.ok() ? gen->output : gen.status().ToString());
  std::ifstream in(doc_path);
  json doc = json::parse(in, nullptr, false);
  ASSERT_FALSE(doc.is_discarded());
  Reply imported = (*m)->Post("/v1/import", doc);
  ASSERT_EQ(imported.status, 200) << imported.Describe();
  uint64_t records = imported.body["records"].get<uint64_t>();
  ASSERT_TRUE(WaitUntilOutboxEmpty(**m, 120s));

  auto t0 = std::chrono::steady_clock::now();
  for (auto& a : partners) {
    EXPECT_TRUE(WaitUntilCaughtUp(*a, **broker, 300s))
        << a->data_dir() << ": " << AgentStatus(*a).dump();
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Every partner holds the whole directory, and an edit after it reaches them all.
  for (auto& a : partners) EXPECT_EQ(U64(AgentStatus(*a), "records"), records) << a->data_dir();
  json org = (*m)->Get("/v1/records?kind=organization&limit=1").body;
  ASSERT_FALSE(org["records"].empty());
  std::string id = org["records"][0]["id"];
  ASSERT_EQ(
      (*m)->Put("/v1/records/" + id, {{"fields", {{"description", "after the import"}}}}).status,
      200);
  for (auto& a : partners) {
    EXPECT_TRUE(WaitForValue(*a, id, "description", "after the import", 60s)) << a->data_dir();
  }
  // Nobody started a session over.
  json b = (*broker)->ApiStatus();
  EXPECT_EQ(U64(b, "session_restarts"), 0u) << b.dump();
  uint64_t agent_restarts = 0, bytes = 0;
  for (auto& a : partners) {
    json s = AgentStatus(*a)["sync"];
    agent_restarts += U64(s, "session_restarts");
    EXPECT_EQ(U64(s, "connects"), 1u) << a->data_dir() << ": " << s.dump();
    bytes += U64(s, "bytes_in");
  }
  EXPECT_EQ(agent_restarts, 0u);
  Reply exported = (*m)->Get("/v1/export");
  std::cout << "[ scale ] " << n << " agents: " << records << " records reached all in " << seconds
            << " s after the import was acknowledged; " << bytes / n
            << " bytes received per agent; the export is " << exported.raw.size()
            << " bytes; broker restarts " << U64(b, "session_restarts") << ", rewinds "
            << U64(b, "rewinds") << ", projections made " << U64(b, "projections_made")
            << ", reused " << U64(b, "projections_reused") << "\n";
}

}  // namespace
}  // namespace sb::testing
