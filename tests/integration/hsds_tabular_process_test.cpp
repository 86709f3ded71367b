// The HSDS tabular form through real agent processes and the real CLI: `dir export --format
// tabular` of the official example, imported as a folder into a second agent and exported
// again as a zip, gives the same objects, each valid against its official schema; the official
// tabular example imports with its values; hostile or malformed packages (a zip bomb, a bad
// header, a bad cell, a link) change nothing.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <zip.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "agents/csv.h"
#include "agents/hsds_tabular.h"
#include "tests/integration/agent_process.h"

namespace sb::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

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

std::string HsdsDir() {
  const char* hsds = std::getenv("SB_HSDS_DIR");
  return hsds ? hsds : "../shared/hsds";
}

// The objects of a tabular package keyed by kind and id; metadata (derived from each agent's
// own history) left out.
std::map<std::string, json> Objects(const std::string& path) {
  std::vector<ImportProblem> problems;
  Result<std::vector<HsdsObject>> objects = ReadTabular(path, &problems);
  EXPECT_TRUE(objects.ok()) << objects.status().ToString();
  EXPECT_TRUE(problems.empty()) << (problems.empty() ? "" : problems[0].where);
  std::map<std::string, json> out;
  if (!objects.ok()) return out;
  for (const HsdsObject& o : *objects) {
    if (o.kind != "metadata") out[o.kind + " " + o.id] = o.fields;
  }
  return out;
}

class HsdsTabularProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* bin = std::getenv("SWITCHBOARD_BIN");
    ASSERT_NE(bin, nullptr);
    bin_ = bin;
    for (const char* name : {"a", "b"}) {
      auto agent = AgentProcess::Start(tmp_ / name);
      ASSERT_TRUE(agent.ok()) << agent.status().ToString();
      agents_[name] = std::move(agent).value();
    }
  }
  void TearDown() override {
    if (!HasFailure()) return;
    for (auto& [name, agent] : agents_) {
      std::cerr << "agent " << name << " log:\n" << Tail(agent->LogPath()) << "\n";
    }
  }

  // Runs `switchboard dir CMD --data <agent's dir> ARGS`; the exit code, output in out_.
  int Cli(const std::string& agent, const std::string& cmd, const std::string& args) {
    std::string log = tmp_ / "cli.log";
    std::string line = Quote(bin_) + " dir " + cmd + " --data " + Quote(tmp_ / agent) + " " + args +
                       " > " + Quote(log) + " 2>&1";
    int status = std::system(line.c_str());
    out_ = ReadText(log);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  size_t RecordCount(const std::string& agent) {
    Reply r = agents_[agent]->Get("/v1/records?limit=1000");
    EXPECT_EQ(r.status, 200) << r.Describe();
    return r.body.value("records", json::array()).size();
  }

  TempDir tmp_;
  std::string bin_, out_;
  std::map<std::string, std::unique_ptr<AgentProcess>> agents_;
};

TEST_F(HsdsTabularProcess, AnExportImportsIntoAnotherAgentAndExportsTheSameObjects) {
  ASSERT_EQ(Cli("a", "import", Quote(HsdsDir() + "/examples/organization_full.json")), 0) << out_;
  ASSERT_EQ(Cli("a", "export", "--format tabular --out " + Quote(tmp_ / "a-out")), 0) << out_;
  EXPECT_NE(out_.find("tables (CSV + datapackage.json) to"), std::string::npos) << out_;
  EXPECT_TRUE(fs::exists(tmp_ / "a-out/datapackage.json"));
  EXPECT_TRUE(fs::exists(tmp_ / "a-out/organizations.csv"));
  EXPECT_TRUE(fs::exists(tmp_ / "a-out/metadata.csv"));
  std::map<std::string, json> a = Objects(tmp_ / "a-out");
  ASSERT_GE(a.size(), 18u);
  EXPECT_EQ(a["location 3a19ff88-4620-4d17-9830-ac1d859eb5d5"]["latitude"], 100);
  EXPECT_EQ(a["schedule 48102e86-bb50-41c4-8f1e-e269368c41d1"]["byday"], "TH,FR");

  ASSERT_EQ(Cli("b", "import", "--json " + Quote(tmp_ / "a-out")), 0) << out_;
  EXPECT_EQ(RecordCount("b"), RecordCount("a"));
  ASSERT_EQ(Cli("b", "export", "--format tabular --out " + Quote(tmp_ / "b-out.zip")), 0) << out_;
  EXPECT_EQ(Objects(tmp_ / "b-out.zip"), a);
  // The zip imports too, and changes nothing the second time.
  ASSERT_EQ(Cli("b", "import", "--json " + Quote(tmp_ / "b-out.zip")), 0) << out_;
  json summary = json::parse(out_, nullptr, false);
  EXPECT_EQ(summary.value("created", -1), 0) << out_;
  EXPECT_EQ(summary.value("updated", -1), 0) << out_;

  // An existing folder is not written over.
  EXPECT_EQ(Cli("a", "export", "--format tabular --out " + Quote(tmp_ / "a-out")), 1) << out_;
  EXPECT_NE(out_.find("already exists"), std::string::npos) << out_;
  EXPECT_EQ(Cli("a", "export", "--format tabular"), 1) << out_;
}

// The sample directory (examples/data/generate.py: categories, populations, countries, 24/7,
// bed capacities, confidential addresses) through the tabular form into a second agent.
TEST_F(HsdsTabularProcess, TheSampleDirectoryRoundTripsThroughTheTabularForm) {
  const char* gen = std::getenv("SAMPLE_GENERATOR");
  if (gen == nullptr || !fs::exists(gen)) GTEST_SKIP() << "no sample generator";
  std::string doc = tmp_ / "directory.json";
  ASSERT_EQ(std::system(("python3 " + Quote(gen) + " --quiet --orgs 60 --out " + Quote(doc) +
                         " > " + Quote(tmp_ / "generate.log") + " 2>&1")
                            .c_str()),
            0)
      << ReadText(tmp_ / "generate.log");
  ASSERT_EQ(Cli("a", "import", Quote(doc)), 0) << out_;
  ASSERT_EQ(Cli("a", "export", "--format tabular --out " + Quote(tmp_ / "a.zip")), 0) << out_;
  ASSERT_EQ(Cli("b", "import", Quote(tmp_ / "a.zip")), 0) << out_;
  EXPECT_EQ(RecordCount("b"), RecordCount("a"));
  ASSERT_EQ(Cli("b", "export", "--format tabular --out " + Quote(tmp_ / "b-out")), 0) << out_;
  std::map<std::string, json> a = Objects(tmp_ / "a.zip");
  EXPECT_EQ(Objects(tmp_ / "b-out"), a);
  // The Switchboard fields went through HSDS's structures and back.
  std::set<std::string> kinds;
  for (auto& [key, fields] : a) kinds.insert(key.substr(0, key.find(' ')));
  for (const char* kind : {"attribute", "taxonomy_term", "taxonomy", "service_area", "schedule"}) {
    EXPECT_EQ(kinds.count(kind), 1u) << kind;
  }
}

TEST_F(HsdsTabularProcess, TheOfficialTabularExampleImportsWithItsValues) {
  // examples/tabular.json as CSV files (no datapackage.json): 21 tables, of which metadata
  // and meta_table_descriptions are not records and the address is the location's own: 18.
  json example = json::parse(ReadText(HsdsDir() + "/examples/tabular.json"));
  fs::create_directory(tmp_ / "official");
  for (auto& [file, rows] : example.items()) {
    std::vector<std::string> header;
    for (auto& [k, v] : rows[0].items()) header.push_back(k);
    std::string text;
    AppendCsvRecord(header, &text);
    for (const json& row : rows) {
      std::vector<std::string> cells;
      for (const std::string& h : header) {
        cells.push_back(row[h].is_string() ? row[h].get<std::string>() : row[h].dump());
      }
      AppendCsvRecord(cells, &text);
    }
    WriteText(tmp_ / ("official/" + file), text);
  }
  ASSERT_EQ(Cli("a", "import", "--json " + Quote(tmp_ / "official")), 0) << out_;
  json summary = json::parse(out_, nullptr, false);
  EXPECT_EQ(summary.value("records", -1), 18) << out_;
  EXPECT_EQ(RecordCount("a"), 18u);
  Reply org = agents_["a"]->Get("/v1/records/d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610");
  ASSERT_EQ(org.status, 200) << org.Describe();
  EXPECT_EQ(org.body["fields"]["year_incorporated"]["value"], 2011);
  EXPECT_EQ(org.body["fields"]["name"]["value"], "Example Organization Inc.");
  Reply schedule = agents_["a"]->Get("/v1/records/48102e86-bb50-41c4-8f1e-e269368c41d1");
  EXPECT_EQ(schedule.body["fields"]["byday"]["value"], json({"FR", "TH"})) << schedule.Describe();
  EXPECT_EQ(schedule.body["fields"]["timezone"]["value"], 3) << schedule.Describe();
}

// Every object of a tabular export, with its id, validates against its official object schema
// (schema/<kind>.json) with tests/hsds/validate.py.
TEST_F(HsdsTabularProcess, EveryExportedRowValidatesAgainstItsOfficialSchema) {
  const char* validate = std::getenv("HSDS_VALIDATE");
  ASSERT_NE(validate, nullptr);
  ASSERT_EQ(Cli("a", "import", Quote(HsdsDir() + "/examples/organization_full.json")), 0) << out_;
  ASSERT_EQ(Cli("a", "export", "--format tabular --out " + Quote(tmp_ / "out")), 0) << out_;
  std::vector<ImportProblem> problems;
  Result<std::vector<HsdsObject>> objects = ReadTabular(tmp_ / "out", &problems);
  ASSERT_TRUE(objects.ok()) << objects.status().ToString();
  std::map<std::string, json> by_kind;
  for (const HsdsObject& o : *objects) {
    json row = o.fields;
    row["id"] = o.id;
    by_kind[o.kind].push_back(row);
  }
  EXPECT_GE(by_kind.size(), 10u);
  for (auto& [kind, rows] : by_kind) {
    std::string file = tmp_ / (kind + ".json");
    WriteText(file, rows.dump());
    std::string log = tmp_ / "validate.log";
    int status = std::system(("python3 " + Quote(validate) + " object " + kind + " " + Quote(file) +
                              " > " + Quote(log) + " 2>&1")
                                 .c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << kind << ":\n" << ReadText(log);
  }
}

TEST_F(HsdsTabularProcess, HostileOrMalformedPackagesChangeNothing) {
  ASSERT_EQ(Cli("a", "import", Quote(HsdsDir() + "/examples/organization_full.json")), 0) << out_;
  const size_t before = RecordCount("a");
  const std::string org =
      "id,name,description\r\nd9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610,Renamed,About\r\n";

  // A zip bomb: 50 MB of zeros in one entry.
  {
    int err = 0;
    zip_t* z = zip_open((tmp_ / "bomb.zip").c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
    ASSERT_NE(z, nullptr);
    std::string zeros(size_t{50} << 20, '0');
    zip_source_t* src = zip_source_buffer(z, zeros.data(), zeros.size(), 0);
    ASSERT_GE(zip_file_add(z, "services.csv", src, 0), 0);
    ASSERT_EQ(zip_close(z), 0);
  }
  EXPECT_EQ(Cli("a", "import", Quote(tmp_ / "bomb.zip")), 1) << out_;
  EXPECT_NE(out_.find("zip bomb"), std::string::npos) << out_;
  EXPECT_NE(out_.find("nothing was imported"), std::string::npos) << out_;

  // A header without id.
  fs::create_directory(tmp_ / "no-id");
  WriteText(tmp_ / "no-id/organizations.csv", "name,description\r\nX,Y\r\n");
  EXPECT_EQ(Cli("a", "import", Quote(tmp_ / "no-id")), 1) << out_;
  EXPECT_NE(out_.find("no \"id\" column"), std::string::npos) << out_;

  // A cell that is not a number: named by file, row and column; --skip-invalid imports the
  // rest.
  fs::create_directory(tmp_ / "bad-cell");
  WriteText(tmp_ / "bad-cell/organizations.csv", org);
  WriteText(tmp_ / "bad-cell/services.csv",
            "id,organization_id,name,status,minimum_age\r\n"
            "0b6f6e5e-9d3a-4c3e-8f7a-2a4a1c9e0001,d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610,S,active,"
            "twelve\r\n");
  EXPECT_EQ(Cli("a", "import", Quote(tmp_ / "bad-cell")), 1) << out_;
  EXPECT_NE(out_.find("services.csv row 2 column minimum_age"), std::string::npos) << out_;
  EXPECT_NE(out_.find("nothing was imported"), std::string::npos) << out_;

  // A symbolic link in the folder.
  fs::create_directory(tmp_ / "link");
  WriteText(tmp_ / "link/organizations.csv", org);
  fs::create_symlink("/etc/passwd", tmp_ / "link/services.csv");
  EXPECT_EQ(Cli("a", "import", Quote(tmp_ / "link")), 1) << out_;
  EXPECT_NE(out_.find("symbolic link"), std::string::npos) << out_;

  EXPECT_EQ(RecordCount("a"), before);
  Reply r = agents_["a"]->Get("/v1/records/d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610");
  EXPECT_EQ(r.body["fields"]["name"]["value"], "Example Organization Inc.") << r.Describe();

  ASSERT_EQ(Cli("a", "import", "--skip-invalid " + Quote(tmp_ / "bad-cell")), 0) << out_;
  r = agents_["a"]->Get("/v1/records/d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610");
  EXPECT_EQ(r.body["fields"]["name"]["value"], "Renamed") << r.Describe();
  EXPECT_EQ(agents_["a"]->Get("/v1/records/0b6f6e5e-9d3a-4c3e-8f7a-2a4a1c9e0001").status, 404);
}

}  // namespace
}  // namespace sb::testing
