// `switchboard dir import` of the official HSDS example (../shared/hsds, SB_HSDS_DIR) into a
// real agent process: the 19 objects land as 18 records with their values; a hostile document
// changes nothing; --skip-invalid imports the valid records and writes its report.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/integration/agent_process.h"

namespace sb::testing {
namespace {

using nlohmann::json;

std::string ReadText(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteText(const std::string& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
}

std::string Quote(const std::string& s) {
  return "'" + s + "'";
}

class HsdsImportProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* hsds = std::getenv("SB_HSDS_DIR");
    example_ = std::string(hsds ? hsds : "../shared/hsds") + "/examples/organization_full.json";
    ASSERT_TRUE(std::filesystem::exists(example_)) << example_;
    const char* bin = std::getenv("SWITCHBOARD_BIN");
    ASSERT_NE(bin, nullptr);
    bin_ = bin;
    auto a = AgentProcess::Start(tmp_ / "agent");
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    agent_ = std::move(a).value();
  }
  void TearDown() override {
    if (HasFailure() && agent_) std::cerr << "agent log:\n" << Tail(agent_->LogPath()) << "\n";
  }

  // Runs `switchboard dir import` with `args`; returns the exit code, output in out_.
  int ImportCli(const std::string& args) {
    std::string log = tmp_ / "cli.log";
    std::string cmd = Quote(bin_) + " dir import --data " + Quote(tmp_ / "agent") + " " + args +
                      " > " + Quote(log) + " 2>&1";
    int status = std::system(cmd.c_str());
    out_ = ReadText(log);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  size_t RecordCount() {
    Reply r = agent_->Get("/v1/records?limit=1000");
    EXPECT_EQ(r.status, 200) << r.Describe();
    return r.body.value("records", json::array()).size();
  }

  json Field(const std::string& id, const std::string& name) {
    Reply r = agent_->Get("/v1/records/" + id);
    EXPECT_EQ(r.status, 200) << r.Describe();
    return r.body["fields"][name]["value"];
  }

  TempDir tmp_;
  std::string example_, bin_, out_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(HsdsImportProcess, TheOfficialOrganizationImportsOnceWithItsValues) {
  ASSERT_EQ(ImportCli("--json " + Quote(example_)), 0) << out_;
  json summary = json::parse(out_, nullptr, false);
  ASSERT_TRUE(summary.is_object()) << out_;
  EXPECT_EQ(summary["records"], 18) << out_;
  EXPECT_EQ(summary["objects"], 19) << out_;
  EXPECT_EQ(RecordCount(), 18u);
  // Values with their JSON types, through the agent's record view.
  EXPECT_EQ(Field("3a19ff88-4620-4d17-9830-ac1d859eb5d5", "latitude"), 100);
  EXPECT_EQ(Field("3a19ff88-4620-4d17-9830-ac1d859eb5d5", "address_id"),
            "74706e55-df26-4b84-80fe-ecc30b5befb4");
  EXPECT_EQ(Field("1554f2e2-a373-45db-a3fa-9fc48a61c15e", "number"), "\"+44 1234 234567\"");
  EXPECT_EQ(Field("1554f2e2-a373-45db-a3fa-9fc48a61c15e", "extension"), 100);
  EXPECT_EQ(Field("48102e86-bb50-41c4-8f1e-e269368c41d1", "byday"), json({"FR", "TH"}));
  // Importing it again changes nothing.
  ASSERT_EQ(ImportCli("--json " + Quote(example_)), 0) << out_;
  json again = json::parse(out_, nullptr, false);
  EXPECT_EQ(again["unchanged"], 18) << out_;
}

TEST_F(HsdsImportProcess, HostileDocumentsChangeNothing) {
  ASSERT_EQ(ImportCli(Quote(example_)), 0) << out_;
  size_t before = RecordCount();
  std::string deep = tmp_ / "deep.json";
  WriteText(deep, "{\"id\":\"1a000000-0000-4000-8000-000000000001\",\"x\":" +
                      std::string(100000, '[') + std::string(100000, ']') + "}");
  EXPECT_EQ(ImportCli(Quote(deep)), 1) << out_;
  EXPECT_NE(out_.find("nothing was imported"), std::string::npos) << out_;
  std::string truncated = tmp_ / "truncated.json";
  std::string text = ReadText(example_);
  WriteText(truncated, text.substr(0, text.size() / 2));
  EXPECT_EQ(ImportCli(Quote(truncated)), 1) << out_;
  // A disagreeing copy: both places named.
  json doc = json::parse(text);
  doc["phones"][0]["extension"] = 7;
  doc["name"] = "Renamed";
  std::string bad = tmp_ / "bad.json";
  WriteText(bad, doc.dump());
  EXPECT_EQ(ImportCli(Quote(bad)), 1) << out_;
  EXPECT_NE(out_.find("contacts[0].phones[0].extension"), std::string::npos) << out_;
  EXPECT_NE(out_.find("phones[0].extension"), std::string::npos) << out_;
  EXPECT_EQ(RecordCount(), before);
  EXPECT_EQ(Field("d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610", "name"), "Example Organization Inc.");
}

TEST_F(HsdsImportProcess, SkipInvalidImportsTheRestAndWritesAReport) {
  json doc = json::parse(ReadText(example_));
  doc["services"][0]["status"] = "unknown";  // invalid: the service and what hangs on it
  std::string file = tmp_ / "partly.json";
  WriteText(file, doc.dump());
  std::string report = tmp_ / "report.jsonl";
  EXPECT_EQ(ImportCli(Quote(file)), 1) << out_;
  EXPECT_EQ(RecordCount(), 0u);
  ASSERT_EQ(ImportCli("--skip-invalid --report " + Quote(report) + " " + Quote(file)), 0) << out_;
  std::istringstream lines(ReadText(report));
  std::string line;
  std::vector<json> problems;
  while (std::getline(lines, line)) problems.push_back(json::parse(line));
  ASSERT_FALSE(problems.empty());
  EXPECT_EQ(problems[0]["where"], "services[0].status");
  bool named_child = false;
  for (const json& p : problems) {
    named_child = named_child ||
                  p["error"].get<std::string>().find("skipped: its service") != std::string::npos;
  }
  EXPECT_TRUE(named_child) << ReadText(report);
  size_t imported = RecordCount();
  EXPECT_GT(imported, 5u);
  EXPECT_LT(imported, 18u);
  EXPECT_EQ(Field("d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610", "name"), "Example Organization Inc.");
  EXPECT_EQ(agent_->Get("/v1/records/ac148810-d857-441c-9679-408f346de14b").status, 404);
}

}  // namespace
}  // namespace sb::testing
