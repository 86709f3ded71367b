// The sample directory (examples/data/generate.py) through a real agent: import, export, and
// the same records with the same values come back, also after a restart.
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
    ASSERT_EQ(RunShell("python3 " + Quote(generator_) + " --quiet --out " + Quote(doc_path_) +
                       " > " + Quote(tmp_ / "generate.log") + " 2>&1"),
              0)
        << Tail(tmp_ / "generate.log");
    doc_text_ = ReadText(doc_path_);
    doc_ = json::parse(doc_text_, nullptr, false);
    ASSERT_FALSE(doc_.is_discarded()) << doc_path_ << " is not JSON";
    auto a = AgentProcess::Start(tmp_ / "agent");
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    agent_ = std::move(a).value();
  }
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
    std::printf("imported %zu records (%zu organizations, %zu bytes) in %lld ms\n", records_,
                doc_["organizations"].size(), doc_text_.size(), static_cast<long long>(ms));
  }

  json Export() {
    Reply r = agent_->Get("/v1/export?format=envelope");
    EXPECT_EQ(r.status, 200) << r.Describe().substr(0, 2000);
    return r.body;
  }

  TempDir tmp_;
  std::string generator_, doc_path_, doc_text_;
  json doc_;
  size_t records_ = 0, created_ = 0;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(SampleData, ImportThenExportGivesBackEveryRecordAndValue) {
  ASSERT_NO_FATAL_FAILURE(Import());
  auto input = Flatten(doc_);
  ASSERT_TRUE(input.ok()) << input.status().ToString();
  EXPECT_GE(doc_["organizations"].size(), 500u);
  EXPECT_EQ(records_, input->size());
  EXPECT_EQ(created_, input->size());

  auto output = Flatten(Export());
  ASSERT_TRUE(output.ok()) << output.status().ToString();
  EXPECT_EQ(output->size(), input->size());
  EXPECT_EQ(Difference(*input, *output), "");
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

TEST_F(SampleData, GeneratorAgreesThatTheExportHoldsTheSameRecords) {
  ASSERT_NO_FATAL_FAILURE(Import());
  std::string exported = tmp_ / "export.json";
  std::ofstream(exported) << Export().dump();
  EXPECT_EQ(
      RunShell("python3 " + Quote(generator_) + " --quiet --out " + Quote(doc_path_) +
               " --compare " + Quote(exported) + " > " + Quote(tmp_ / "compare.log") + " 2>&1"),
      0)
      << Tail(tmp_ / "compare.log");
}

}  // namespace
}  // namespace sb::testing
