// The sample directory (examples/data/generate.py, compiled HSDS 3.0 organizations) through a
// real agent: import, export, and the same objects with the same values come back (the
// generator compares, JSON types included), the export validates against the official schemas
// (tests/hsds/validate.py), also after a restart; the first release's envelope still imports
// and round-trips.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/integration/agent_process.h"
#include "tests/integration/hsds_compare.h"

namespace sb::testing {
namespace {

using nlohmann::json;

std::string ReadText(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Quote(const std::string& s) {
  return "'" + s + "'";
}

// Runs a shell command; returns its exit code.
int RunShell(const std::string& command) {
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class SampleData : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* gen = std::getenv("SAMPLE_GENERATOR");
    generator_ = gen ? gen : "";
    if (generator_.empty() || !std::filesystem::exists(generator_)) {
      GTEST_SKIP() << "no sample generator at '" << generator_ << "'";
    }
    doc_path_ = tmp_ / "directory.json";
    ASSERT_EQ(
        RunShell("python3 " + Quote(generator_) + " --quiet --format " + Format() + " --out " +
                 Quote(doc_path_) + " > " + Quote(tmp_ / "generate.log") + " 2>&1"),
        0)
        << Tail(tmp_ / "generate.log");
    doc_text_ = ReadText(doc_path_);
    doc_ = json::parse(doc_text_, nullptr, false);
    ASSERT_FALSE(doc_.is_discarded()) << doc_path_ << " is not JSON";
    auto a = AgentProcess::Start(tmp_ / "agent");
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    agent_ = std::move(a).value();
  }
  virtual std::string Format() const { return "hsds"; }
  void TearDown() override {
    if (HasFailure() && agent_) std::cerr << "agent log:\n" << Tail(agent_->LogPath()) << "\n";
  }

  // Imports the document, timing it.
  void Import() {
    auto start = std::chrono::steady_clock::now();
    Reply r = agent_->Send("POST", "/v1/import", doc_text_, "Bearer " + agent_->token());
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    ASSERT_EQ(r.status, 200) << r.Describe().substr(0, 4000);
    records_ = r.body["records"].get<size_t>();
    created_ = r.body["created"].get<size_t>();
    size_t orgs = doc_.is_array() ? doc_.size() : doc_["organizations"].size();
    std::printf("imported %zu records (%zu organizations, %zu bytes) in %lld ms\n", records_, orgs,
                doc_text_.size(), static_cast<long long>(ms));
  }

  json Export(const std::string& query = "") {
    Reply r = agent_->Get("/v1/export" + query);
    EXPECT_EQ(r.status, 200) << r.Describe().substr(0, 2000);
    return r.body;
  }

  TempDir tmp_;
  std::string generator_, doc_path_, doc_text_;
  json doc_;
  size_t records_ = 0, created_ = 0;
  std::unique_ptr<AgentProcess> agent_;
};

// Runs `python3 generate.py --compare` of the generated document with `exported`.
void ExpectGeneratorAgrees(const std::string& generator, const std::string& doc_path,
                           const std::string& exported, const std::string& log) {
  EXPECT_EQ(RunShell("python3 " + Quote(generator) + " --quiet --out " + Quote(doc_path) +
                     " --compare " + Quote(exported) + " > " + Quote(log) + " 2>&1"),
            0)
      << Tail(log);
}

TEST_F(SampleData, ImportThenExportGivesBackEveryObjectAndValue) {
  ASSERT_NO_FATAL_FAILURE(Import());
  ASSERT_TRUE(doc_.is_array());
  EXPECT_GE(doc_.size(), 500u);
  EXPECT_EQ(created_, records_);
  json exported = Export();
  ASSERT_TRUE(exported.is_array()) << exported.dump().substr(0, 500);
  EXPECT_EQ(exported.size(), doc_.size());
  std::string path = tmp_ / "export.json";
  std::ofstream(path) << exported.dump();
  ExpectGeneratorAgrees(generator_, doc_path_, path, tmp_ / "compare.log");
}

TEST_F(SampleData, TheExportValidatesAgainstTheOfficialSchemas) {
  const char* validate = std::getenv("HSDS_VALIDATE");
  ASSERT_TRUE(validate && *validate) << "HSDS_VALIDATE (tests/hsds/validate.py) is set by meson";
  ASSERT_NO_FATAL_FAILURE(Import());
  for (const char* view : {"organization", "service"}) {
    std::string path = tmp_ / (std::string(view) + ".json");
    std::ofstream(path) << Export(std::string("?view=") + view).dump();
    std::string log = tmp_ / (std::string(view) + ".log");
    EXPECT_EQ(RunShell("python3 " + Quote(validate) + " compiled " + view + " " + Quote(path) +
                       " > " + Quote(log) + " 2>&1"),
              0)
        << view << ":\n"
        << Tail(log);
  }
}

TEST_F(SampleData, ImportedDirectorySurvivesARestart) {
  ASSERT_NO_FATAL_FAILURE(Import());
  json before = Export();
  auto stopped = agent_->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped.status().ToString();
  auto a = AgentProcess::Start(tmp_ / "agent");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  agent_ = std::move(a).value();
  EXPECT_EQ(Export(), before);
  Reply again = agent_->Send("POST", "/v1/import", doc_text_, "Bearer " + agent_->token());
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.body["unchanged"], records_) << again.raw;
}

// The first release's envelope ({hsds_version, organizations}) still imports, and its own export
// shape (?format=envelope) gives back every record.
class EnvelopeSampleData : public SampleData {
 protected:
  std::string Format() const override { return "envelope"; }
};

TEST_F(EnvelopeSampleData, ImportThenEnvelopeExportGivesBackEveryRecordAndValue) {
  ASSERT_NO_FATAL_FAILURE(Import());
  auto input = Flatten(doc_);
  ASSERT_TRUE(input.ok()) << input.status().ToString();
  EXPECT_EQ(records_, input->size());
  auto output = Flatten(Export("?format=envelope"));
  ASSERT_TRUE(output.ok()) << output.status().ToString();
  EXPECT_EQ(Difference(*input, *output), "");
  std::string path = tmp_ / "export.json";
  std::ofstream(path) << Export("?format=envelope").dump();
  ExpectGeneratorAgrees(generator_, doc_path_, path, tmp_ / "compare.log");
}

// Every official compiled example (../shared/hsds/examples/*_full.json) imported into a real
// agent and exported in its own view comes back with every object and value, JSON types
// included (the generator's --compare flattens both sides the same way).
TEST(OfficialExamples, RoundTripThroughImportAndExportWithEveryValueKept) {
  const char* hsds = std::getenv("SB_HSDS_DIR");
  const char* gen = std::getenv("SAMPLE_GENERATOR");
  ASSERT_TRUE(hsds && *hsds && gen && *gen) << "SB_HSDS_DIR and SAMPLE_GENERATOR are set by meson";
  for (const char* view : {"organization", "service", "service_at_location"}) {
    SCOPED_TRACE(view);
    TempDir tmp;
    std::string example = std::string(hsds) + "/examples/" + view + "_full.json";
    ASSERT_TRUE(std::filesystem::exists(example)) << example;
    auto a = AgentProcess::Start(tmp / "agent");
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    Reply imported = (*a)->Send("POST", "/v1/import", ReadText(example), "Bearer " + (*a)->token());
    ASSERT_EQ(imported.status, 200) << imported.Describe();
    Reply exported = (*a)->Get(std::string("/v1/export?view=") + view);
    ASSERT_EQ(exported.status, 200) << exported.Describe();
    ASSERT_EQ(exported.body.size(), 1u) << exported.raw.substr(0, 500);
    std::string out = tmp / "export.json";
    std::ofstream(out) << exported.body.dump();
    ExpectGeneratorAgrees(gen, example, out, tmp / "compare.log");
  }
}

}  // namespace
}  // namespace sb::testing
