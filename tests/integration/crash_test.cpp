// The crash test: writers stream PUTs at a real agent, which is killed with SIGKILL at a random
// moment; after a restart every acknowledged write must be there with exactly its values, and
// a write in flight at the kill must be there whole or not at all. A model of what was
// acknowledged is kept across rounds.
//
//   SB_CRASH_ROUNDS  rounds (default 20)
//   SB_CRASH_SEED    seed of the kill delays and write choices (default: random, printed)
//
// A second test kills the agent in the middle of large imports: each import is one request,
// so after a restart it is there whole or not at all.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "tests/integration/agent_process.h"
#include "tests/integration/hsds_compare.h"

namespace sb::testing {
namespace {

using nlohmann::json;

constexpr int kWriters = 2;

const std::vector<std::vector<std::string>> kCountries = {
    {"NG"}, {"GH", "NG"}, {"IT", "RO"}, {"MX"}, {"GB", "UA", "US"}};

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

std::string CrashId(int round, int writer, int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4000-8000-%012x", static_cast<unsigned>(round),
                static_cast<unsigned>(writer), static_cast<unsigned>(n));
  return buf;
}

// Version `v` of a record's fields; consecutive versions differ in every field.
json Fields(const std::string& id, uint64_t v) {
  return {{"name", "Org " + id.substr(0, 8) + " v" + std::to_string(v)},
          {"description", "version " + std::to_string(v) + " of " + id},
          {"year_incorporated", 1800 + static_cast<int>(v % 300)},
          {"countries_served", kCountries[v % kCountries.size()]}};
}

// The export's view of a record written with `fields` (sets come back sorted).
json Exported(const std::string& id, const json& fields) {
  json o = fields;
  o["id"] = id;
  return o;
}

// What the test knows about one record.
struct Expected {
  std::optional<json> acked;    // the last acknowledged fields
  std::vector<json> in_flight;  // unacknowledged writes that may have landed
  size_t writes = 0;            // writes known to have landed: one history entry each
  bool touched = false;         // written in the current round
};

// One writer's stream within a round. Runs until a request gets no response.
struct Writer {
  int index = 0;
  std::vector<std::string> own_ids;  // ids this writer may update (acked, from earlier rounds)
  std::mt19937_64 rng;
  // Results, read by the main thread after join:
  std::vector<std::pair<std::string, json>> acked;
  std::optional<std::pair<std::string, json>> in_flight;
  std::string error;  // an unexpected reply
};

class CrashTest : public ::testing::Test {
 protected:
  void Start() {
    auto a = AgentProcess::Start(tmp_ / "agent");
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    agent_ = std::move(a).value();
  }

  void RunWriter(Writer& w, int round, bool updates, std::atomic<uint64_t>* version) {
    for (int n = 0;; ++n) {
      std::string id;
      bool update = updates && !w.own_ids.empty() && w.rng() % 100 < 40;
      id = update ? w.own_ids[w.rng() % w.own_ids.size()] : CrashId(round, w.index, n);
      json fields = Fields(id, (*version)++);
      json body = {{"fields", fields}};
      if (!update) body["kind"] = "organization";
      w.in_flight = {id, fields};
      Reply r = agent_->Put("/v1/records/" + id, body);
      if (r.status == 0) return;  // killed: the write stays in flight
      w.in_flight.reset();
      if (r.status != 200) {
        w.error = "PUT " + id + ": " + r.Describe();
        return;
      }
      w.acked.emplace_back(id, fields);
      if (!update) w.own_ids.push_back(id);
    }
  }

  // Checks the agent's export against the model, then resolves in-flight writes to what landed.
  // Counts in-flight writes found landed in `landed`.
  void Verify(int round, size_t* landed = nullptr) {
    Reply r = agent_->Get("/v1/export?format=envelope");
    ASSERT_EQ(r.status, 200) << r.Describe();
    std::map<std::string, json> present;
    for (const auto& o : r.body["organizations"]) present[o["id"]] = o;
    EXPECT_EQ(r.body.size(), 3u) << "only organizations were written: " << r.raw.substr(0, 500);
    std::vector<std::string> lost_in_flight;
    for (auto& [id, want] : model_) {
      auto it = present.find(id);
      if (it == present.end()) {
        EXPECT_FALSE(want.acked) << "round " << round << ": acknowledged record " << id
                                 << " is gone; acked " << want.acked->dump();
        if (!want.acked) lost_in_flight.push_back(id);
        want.in_flight.clear();
        continue;
      }
      bool matched = want.acked && it->second == Exported(id, *want.acked);
      for (const json& f : want.in_flight) {
        if (!matched && it->second == Exported(id, f)) {
          want.acked = f;  // what landed is now durable and must stay
          want.writes++;
          matched = true;
          if (landed) ++*landed;
        }
      }
      EXPECT_TRUE(matched) << "round " << round << ": record " << id << " is " << it->second.dump()
                           << "\nacked: " << (want.acked ? want.acked->dump() : "none")
                           << "\nin flight: " << json(want.in_flight).dump();
      want.in_flight.clear();
    }
    for (const auto& id : lost_in_flight) model_.erase(id);
    for (const auto& [id, o] : present) {
      EXPECT_TRUE(model_.count(id))
          << "round " << round << ": unexpected record " << id << " " << o.dump();
    }
    EXPECT_EQ(present.size(), model_.size());
  }

  // Each landed write of a record left exactly one history entry, in sequence order.
  // Checks the records written this round, or all of them.
  void VerifyHistory(int round, bool all) {
    for (auto& [id, want] : model_) {
      if (!all && !want.touched) continue;
      want.touched = false;
      Reply h = agent_->Get("/v1/records/" + id + "/history");
      ASSERT_EQ(h.status, 200) << h.Describe();
      const json& entries = h.body["history"];
      EXPECT_EQ(entries.size(), want.writes)
          << "round " << round << ": history of " << id << ": " << h.raw.substr(0, 2000);
      for (size_t i = 1; i < entries.size(); ++i) {
        EXPECT_LT(entries[i - 1]["seq"].get<uint64_t>(), entries[i]["seq"].get<uint64_t>()) << id;
      }
    }
  }

  TempDir tmp_;
  std::unique_ptr<AgentProcess> agent_;
  std::map<std::string, Expected> model_;
};

TEST_F(CrashTest, AcknowledgedWritesSurviveSigkillAndInFlightOnesAreWholeOrAbsent) {
  const uint64_t rounds = EnvOr("SB_CRASH_ROUNDS", 20);
  const uint64_t seed = EnvOr("SB_CRASH_SEED", std::random_device{}());
  std::printf("crash test: %llu rounds, seed %llu (rerun with SB_CRASH_SEED=%llu)\n",
              static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::atomic<uint64_t> version{1};
  std::vector<std::vector<std::string>> own_ids(kWriters);
  size_t total_acked = 0, total_in_flight = 0, in_flight_landed = 0;
  auto begin = std::chrono::steady_clock::now();

  ASSERT_NO_FATAL_FAILURE(Start());
  for (uint64_t round = 0; round < rounds; ++round) {
    bool updates = round % 2 == 1;
    std::vector<Writer> writers(kWriters);
    for (int i = 0; i < kWriters; ++i) {
      writers[i].index = i;
      writers[i].own_ids = own_ids[i];
      writers[i].rng.seed(rng());
    }
    int delay_ms = 20 + static_cast<int>(rng() % 281);
    std::vector<std::thread> threads;
    for (auto& w : writers) {
      threads.emplace_back(
          [&, r = static_cast<int>(round)] { RunWriter(w, r, updates, &version); });
    }
    // The kill lands at a random moment of the stream (not a synchronization wait).
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    agent_->Kill();
    for (auto& t : threads) t.join();

    size_t acked = 0, in_flight = 0;
    for (auto& w : writers) {
      ASSERT_EQ(w.error, "") << "round " << round;
      for (auto& [id, fields] : w.acked) {
        Expected& e = model_[id];
        e.acked = fields;
        e.in_flight.clear();
        e.writes++;
        e.touched = true;
      }
      acked += w.acked.size();
      if (w.in_flight) {
        Expected& e = model_[w.in_flight->first];
        e.in_flight.push_back(w.in_flight->second);
        e.touched = true;
        ++in_flight;
      }
      own_ids[w.index] = w.own_ids;
    }
    size_t before = model_.size();
    ASSERT_NO_FATAL_FAILURE(Start());
    ASSERT_NO_FATAL_FAILURE(Verify(static_cast<int>(round), &in_flight_landed));
    ASSERT_NO_FATAL_FAILURE(VerifyHistory(static_cast<int>(round), false));
    // An in-flight create that did not land was never acknowledged: forget its id.
    for (auto& ids : own_ids) {
      std::erase_if(ids, [&](const std::string& id) { return !model_.count(id); });
    }
    std::printf(
        "round %2llu: kill after %3d ms, %3zu writes acknowledged, %zu in flight, "
        "%zu records (%zu before resolving)\n",
        static_cast<unsigned long long>(round), delay_ms, acked, in_flight, model_.size(), before);
    total_acked += acked;
    total_in_flight += in_flight;
    if (HasFailure()) {
      std::cerr << "agent log:\n" << Tail(agent_->LogPath()) << "\n";
      return;
    }
  }
  // Finally a clean stop and start changes nothing either.
  auto stopped = agent_->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped.status().ToString();
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_NO_FATAL_FAILURE(Verify(static_cast<int>(rounds)));
  ASSERT_NO_FATAL_FAILURE(VerifyHistory(static_cast<int>(rounds), true));
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  std::printf(
      "crash test: %zu acknowledged writes, %zu in flight at a kill (%zu landed), "
      "%zu records, %.1f s\n",
      total_acked, total_in_flight, in_flight_landed, model_.size(), secs);
  EXPECT_GT(total_acked, 0u);
}

// An HSDS document of `orgs` organizations, each with a service that has a phone, and a
// location: 4 records per organization, ids unique to `round`.
json ImportDocument(int round, int orgs) {
  json list = json::array();
  for (int i = 0; i < orgs; ++i) {
    auto id = [&](int kind) {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%08x-%04x-4000-8000-%012x", static_cast<unsigned>(round),
                    static_cast<unsigned>(0xf000 + kind), static_cast<unsigned>(i));
      return std::string(buf);
    };
    list.push_back({{"id", id(0)},
                    {"name", "Imported org " + std::to_string(round) + "/" + std::to_string(i)},
                    {"description", std::string(300, 'd')},
                    {"countries_served", {"NG", "GH"}},
                    {"services",
                     {{{"id", id(1)},
                       {"name", "Shelter"},
                       {"capacity_beds_available", i % 50},
                       {"categories", {"emergency_shelter"}},
                       {"phones", {{{"id", id(2)}, {"number", "+2348005550123"}}}}}}},
                    {"locations", {{{"id", id(3)}, {"name", "Office"}, {"country", "NG"}}}}});
  }
  return {{"hsds_version", "3.0"}, {"organizations", list}};
}

TEST_F(CrashTest, ImportKilledMidwayIsWholeOrAbsent) {
  constexpr int kOrgs = 400;
  const uint64_t rounds = std::max<uint64_t>(2, EnvOr("SB_CRASH_ROUNDS", 20) / 2);
  const uint64_t seed = EnvOr("SB_CRASH_SEED", std::random_device{}());
  std::printf("import crash test: %llu rounds, seed %llu\n",
              static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  FlatDocument expected;
  int64_t import_ms = 0;
  ASSERT_NO_FATAL_FAILURE(Start());
  for (uint64_t round = 0; round < rounds; ++round) {
    json doc = ImportDocument(static_cast<int>(round), kOrgs);
    auto mine = Flatten(doc);
    ASSERT_TRUE(mine.ok()) << mine.status().ToString();
    std::string body = doc.dump();
    Reply reply;
    auto begin = std::chrono::steady_clock::now();
    std::thread client(
        [&] { reply = agent_->Send("POST", "/v1/import", body, "Bearer " + agent_->token()); });
    // Round 0 runs to completion and calibrates the kill window of the others.
    int delay_ms = -1;
    if (round == 0) {
      client.join();
      import_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - begin)
                      .count();
    } else {
      delay_ms = static_cast<int>(rng() % static_cast<uint64_t>(import_ms * 3 / 2 + 1));
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      agent_->Kill();
      client.join();
    }
    ASSERT_TRUE(reply.status == 200 || reply.status == 0) << reply.Describe();
    if (round > 0) {
      ASSERT_NO_FATAL_FAILURE(Start());
    }
    Reply exported = agent_->Get("/v1/export?format=envelope");
    ASSERT_EQ(exported.status, 200) << exported.Describe();
    auto actual = Flatten(exported.body);
    ASSERT_TRUE(actual.ok()) << actual.status().ToString();
    size_t landed = 0;
    for (const auto& [id, r] : *mine) landed += actual->count(id);
    std::printf("round %2llu: kill after %4d ms (import takes %lld ms): %s, %zu of %zu records\n",
                static_cast<unsigned long long>(round), delay_ms, static_cast<long long>(import_ms),
                reply.status == 200 ? "acknowledged" : "no reply", landed, mine->size());
    ASSERT_TRUE(landed == 0 || landed == mine->size())
        << "round " << round << ": a killed import left " << landed << " of " << mine->size()
        << " records";
    ASSERT_TRUE(reply.status != 200 || landed == mine->size())
        << "round " << round << ": an acknowledged import is gone";
    if (landed) expected.insert(mine->begin(), mine->end());
    ASSERT_EQ(Difference(expected, *actual), "") << "round " << round;
  }
}

}  // namespace
}  // namespace sb::testing
