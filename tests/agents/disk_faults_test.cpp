// The agent on a full or failing disk (FaultInjector::SetDiskFull / SetIoErrors): a local edit
// is refused with NoSpace (HTTP 507 from the local API) or IoError (503) and leaves nothing
// behind, reads go on, updates from the broker wait (unacknowledged) instead of being lost,
// and once there is room again edits are taken and everything syncs. The broker and a second
// agent run on ordinary stores.
#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "agents/api_server.h"
#include "tests/broker/store_faults_harness.h"

namespace sb::faults {
namespace {

using nlohmann::json;

// The agent's local API over `dir`, served on a thread for the length of a test.
class LocalApi {
 public:
  LocalApi(LocalDirectory* dir, Clock* clock) {
    ApiServer::Options o;
    o.port = 0;
    o.token = "test-token";
    o.org = kOrgA;
    server_ = std::make_unique<ApiServer>(dir, clock, o);
    Result<int> port = server_->Bind();
    EXPECT_TRUE(port.ok()) << port.status().ToString();
    port_ = port.ok() ? *port : 0;
    thread_ = std::thread([this] { server_->Serve(); });
  }
  ~LocalApi() {
    server_->Stop();
    thread_.join();
  }
  httplib::Result Put(const std::string& path, const json& body) {
    httplib::Client c("127.0.0.1", port_);
    return c.Put(path, {{"Authorization", "Bearer test-token"}}, body.dump(), "application/json");
  }
  httplib::Result Get(const std::string& path) {
    httplib::Client c("127.0.0.1", port_);
    return c.Get(path, {{"Authorization", "Bearer test-token"}});
  }

 private:
  std::unique_ptr<ApiServer> server_;
  int port_ = 0;
  std::thread thread_;
};

json Rename(const std::string& name) {
  return {{"kind", "organization"}, {"fields", {{"name", name}}}};
}

std::string ErrorMessage(const httplib::Result& r) {
  if (!r) return "(no reply)";
  json body = json::parse(r->body, nullptr, false);
  if (!body.is_object() || !body["error"].is_object()) return r->body;
  return body["error"].value("message", "");
}

TEST(AgentDiskFaults, ADiskFullRefusesEditsWith507ReadsGoOnAndEditsResumeOnceThereIsRoom) {
  StoreFaults h;
  h.Init(Node::kAgentA, Mode::kCommit);
  Agent& a = *h.a_;
  Agent& b = *h.b_;
  h.Connect(a);
  h.Connect(b);
  h.Run();
  ASSERT_TRUE(
      a.dir
          ->Apply({Edit(kOrgA, "organization", {{"name", T("Harbor Light")}, {"owner", T(kOrgA)}})},
                  "test")
          .ok());
  h.Run();
  LocalApi api(a.dir.get(), &h.clock_);

  h.fault_.SetDiskFull(true);
  auto refused =
      a.dir->Apply({Edit(kOrgA, "organization", {{"name", T("Harbor Light 2")}})}, "test");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kNoSpace) << refused.status().ToString();
  httplib::Result put = api.Put("/v1/records/" + kOrgA, Rename("Harbor Light Shelter"));
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 507) << put->body;
  std::string why = ErrorMessage(put);
  EXPECT_NE(why.find("not saved"), std::string::npos) << why;
  EXPECT_NE(why.find("is full"), std::string::npos) << why;
  EXPECT_NE(why.find("free space"), std::string::npos) << why;
  EXPECT_NE(why.find("resumes by itself"), std::string::npos) << why;
  // Reads go on, and show nothing of the refused edits.
  httplib::Result get = api.Get("/v1/records/" + kOrgA);
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(a.Displayed(kOrgA, "name"), T("Harbor Light"));
  EXPECT_EQ(a.dir->outbox_depth(), 0u);
  // B's edit reaches A while its disk is full: not applied, not acknowledged, not lost.
  ASSERT_TRUE(
      b.dir
          ->Apply({Edit(kOrgB, "organization", {{"name", T("Tumaini")}, {"owner", T(kOrgB)}})},
                  "test")
          .ok());
  h.Run();
  EXPECT_GE(h.faults_seen_, 1);  // the update A could not save: memory checked against the store
  EXPECT_EQ(a.Displayed(kOrgB, "name"), std::nullopt);
  EXPECT_LT(a.dir->sync_cursor(), h.core_->stats().log_head);
  EXPECT_NE(a.sync->status().last_error.find("is full"), std::string::npos)
      << a.sync->status().last_error;

  h.fault_.SetDiskFull(false);  // the space has returned: nothing restarts
  put = api.Put("/v1/records/" + kOrgA, Rename("Harbor Light Shelter"));
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 200) << put->body;
  h.Settle();
  EXPECT_EQ(a.Displayed(kOrgA, "name"), T("Harbor Light Shelter"));
  EXPECT_EQ(a.Displayed(kOrgB, "name"), T("Tumaini"));
  EXPECT_EQ(b.Displayed(kOrgA, "name"), T("Harbor Light Shelter"));
  EXPECT_EQ(h.core_->state().Find(kOrgA)->Displayed("name"), T("Harbor Light Shelter"));
  EXPECT_EQ(a.dir->outbox_depth(), 0u);
  EXPECT_EQ(Views(a.State()), Views(h.BrokerStateFor(kOrgA))) << "not converged";
  // And after a restart, the store holds what memory showed.
  AgentView before = AgentViewOf(*a.dir, *a.book);
  h.RestartAgent(a, /*power_loss=*/true);
  EXPECT_TRUE(before == AgentViewOf(*a.dir, *a.book));
}

TEST(AgentDiskFaults, AnIoErrorRefusesEditsWith503AndReadsGoOn) {
  StoreFaults h;
  h.Init(Node::kAgentA, Mode::kCommit);
  Agent& a = *h.a_;
  ASSERT_TRUE(
      a.dir
          ->Apply({Edit(kOrgA, "organization", {{"name", T("Harbor Light")}, {"owner", T(kOrgA)}})},
                  "test")
          .ok());
  LocalApi api(a.dir.get(), &h.clock_);
  h.fault_.SetIoErrors(true);
  httplib::Result put = api.Put("/v1/records/" + kOrgA, Rename("Harbor Light Shelter"));
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 503) << put->body;
  std::string why = ErrorMessage(put);
  EXPECT_NE(why.find("could not write to its disk"), std::string::npos) << why;
  EXPECT_EQ(why.find("is full"), std::string::npos) << why;
  httplib::Result get = api.Get("/v1/records/" + kOrgA);
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(a.Displayed(kOrgA, "name"), T("Harbor Light"));
  EXPECT_EQ(a.dir->outbox_depth(), 1u);  // the first edit, not the refused one
  h.fault_.SetIoErrors(false);
  h.RestartAgent(a, /*power_loss=*/false);  // a failed log write stops RocksDB until reopened
  EXPECT_EQ(a.Displayed(kOrgA, "name"), T("Harbor Light"));
  EXPECT_EQ(a.dir->outbox_depth(), 1u);
  EXPECT_TRUE(
      a.dir->Apply({Edit(kOrgA, "organization", {{"name", T("Harbor Light Shelter")}})}, "test")
          .ok());
}

}  // namespace
}  // namespace sb::faults
