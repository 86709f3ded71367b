// Hostile peers against a real `switchboard broker` process ($SWITCHBOARD_BIN) on loopback.
// Each test enrolls a fresh organization through the broker's API and talks to the broker as a
// raw CURVE DEALER with that organization's keys, sending what a broken or malicious agent
// might: noise, truncated envelopes, an oversized frame, the wrong protocol version, pushes out
// of order or with forged signatures. After each, the broker must still be up and still serve
// a well-behaved client. Nothing sleeps to synchronize: every wait polls with a deadline.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <zmq.hpp>

#include "conflict/codec.h"
#include "crypto/identity.h"
#include "testing/process.h"
#include "tests/integration/agent_process.h"
#include "tests/integration/raw_client.h"
#include "transport/protocol.h"
#include "transport/sockets.h"

namespace sb {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Tail;
using testing::TempDir;
using testing::WaitFor;

constexpr auto kWait = 5s;       // for what must happen
constexpr auto kQuiet = 1500ms;  // for what must not

std::string ReadAll(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Uuid(unsigned n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-0000-4000-8000-00000000f00d", n);
  return buf;
}

// Runs `args` with stdout and stderr appended to `log`; the child dies with the test.
Result<testing::Process> Spawn(std::vector<std::string> args, const std::string& log) {
  testing::SpawnOptions options;
  options.args = std::move(args);
  options.output_file = log;
  return testing::Process::Spawn(options);
}

// A `switchboard broker` process with a fresh data directory.
class BrokerProcess {
 public:
  static Result<std::unique_ptr<BrokerProcess>> Start(const std::string& root) {
    std::string bin = testing::SwitchboardBinary();
    if (bin.empty())
      return Status::FailedPrecondition("SWITCHBOARD_BIN is not set (run via meson test)");
    std::unique_ptr<BrokerProcess> b(new BrokerProcess());
    b->data_ = root + "/B";
    b->log_ = root + "/broker.log";
    ASSIGN_OR_RETURN(
        testing::Process init,
        Spawn({bin, "init", "--broker", "--data", b->data_, "--org", Uuid(0xb0b)}, b->log_));
    if (!init.Wait().success()) {
      return Status::Internal("switchboard init --broker failed:\n" + Tail(b->log_));
    }
    ASSIGN_OR_RETURN(b->pub_, ReadPublicIdentity(b->data_ + "/identity.pub"));
    ASSIGN_OR_RETURN(b->process_, Spawn({bin, "broker", "--data", b->data_, "--listen",
                                         "tcp://127.0.0.1:*", "--api", "127.0.0.1:0"},
                                        b->log_));
    // Ready once broker.json names this child.
    std::string api;
    bool ready = WaitFor(
        [&] {
          if (!b->Alive()) return true;
          json j = json::parse(ReadAll(b->data_ + "/broker.json"), nullptr, false);
          if (!j.is_object() || j.value("pid", -1) != b->process_->pid()) return false;
          api = j.value("api", "");
          b->endpoint_ = j.value("listen", "");
          return true;
        },
        10s);
    if (!ready || !b->Alive())
      return Status::Unavailable("the broker did not start:\n" + Tail(b->log_));
    size_t colon = api.rfind(':');
    b->api_port_ = colon == std::string::npos ? 0 : std::atoi(api.c_str() + colon + 1);
    b->token_ = ReadAll(b->data_ + "/api.token");
    while (!b->token_.empty() && std::isspace(static_cast<unsigned char>(b->token_.back()))) {
      b->token_.pop_back();
    }
    if (b->api_port_ <= 0 || b->token_.empty() || b->endpoint_.empty()) {
      return Status::Internal("bad broker.json or api.token in " + b->data_);
    }
    if (!WaitFor([&] { return b->Healthy(); }, 10s)) {
      return Status::Unavailable("the broker's API does not answer:\n" + Tail(b->log_));
    }
    return b;
  }

  // ~BrokerProcess kills the broker if it still runs (the Process does).

  bool Alive() { return process_ && process_->running(); }

  bool Healthy() {
    httplib::Client c("127.0.0.1", api_port_);
    c.set_connection_timeout(2);
    auto res = c.Get("/healthz");
    return res && res->status == 200;
  }

  // POST with the bearer token; returns the HTTP status (0: no response) and body.
  std::pair<int, std::string> Post(const std::string& path, const json& body) {
    httplib::Client c("127.0.0.1", api_port_);
    c.set_connection_timeout(2);
    auto res =
        c.Post(path, {{"Authorization", "Bearer " + token_}}, body.dump(), "application/json");
    if (!res) return {0, httplib::to_string(res.error())};
    return {res->status, res->body};
  }

  Status Enroll(const PublicIdentity& id, const std::string& role) {
    auto [status, body] =
        Post("/v1/roster", {{"identity", json::parse(PublicIdentityJson(id))}, {"role", role}});
    if (status != 200)
      return Status::Internal("enroll: HTTP " + std::to_string(status) + " " + body);
    return Status::Ok();
  }

  const std::string& endpoint() const { return endpoint_; }
  const PublicIdentity& pub() const { return pub_; }
  const std::string& log() const { return log_; }

 private:
  BrokerProcess() = default;
  std::string data_, log_, endpoint_, token_;
  PublicIdentity pub_;
  std::optional<testing::Process> process_;
  int api_port_ = 0;
};

using testing::Monitor;

// A raw client of the broker under test (tests/integration/raw_client.h).
class Client : public testing::RawClient {
 public:
  Client(zmq::context_t& ctx, Identity id, const BrokerProcess& broker)
      : RawClient(ctx, std::move(id), broker.pub().curve_public, broker.endpoint()) {}
};

class Hostile : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new TempDir();
    Result<std::unique_ptr<BrokerProcess>> b = BrokerProcess::Start(root_->path());
    if (!b.ok()) {
      start_error_ = new std::string(b.status().ToString());
      return;
    }
    broker_ = std::move(b).value().release();
  }
  static void TearDownTestSuite() {
    delete broker_;
    broker_ = nullptr;
    delete root_;
    root_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(broker_, nullptr) << (start_error_ ? *start_error_ : "no broker");
    ASSERT_TRUE(broker_->Alive()) << "the broker died in an earlier test:\n"
                                  << Tail(broker_->log());
  }

  // A freshly generated organization, enrolled as a partner.
  Identity Enrolled() {
    static std::atomic<unsigned> n{1};
    Result<Identity> id = Identity::Generate(Uuid(n++));
    EXPECT_TRUE(id.ok());
    Status st = broker_->Enroll(id->pub, "partner");
    EXPECT_TRUE(st.ok()) << st.ToString();
    return std::move(id).value();
  }

  // The broker is up and a well-behaved client still gets Welcome for its Hello.
  void ExpectBrokerStillServes() {
    ASSERT_TRUE(broker_->Alive()) << Tail(broker_->log());
    EXPECT_TRUE(broker_->Healthy());
    Client good(ctx_, Enrolled(), *broker_);
    ASSERT_TRUE(good.Send(good.Hello()));
    std::optional<proto::Welcome> w = good.Expect<proto::Welcome>();
    ASSERT_TRUE(w.has_value()) << "no Welcome for a good client; log:\n" << Tail(broker_->log());
    EXPECT_EQ(w->org, good.org());
    EXPECT_EQ(w->role, Role::kPartner);
  }

  // Whether the broker's log gets a line naming `org` and containing `text` (besides the line
  // about its enrollment).
  bool LogMentions(const std::string& org, const std::string& text) {
    return WaitFor(
        [&] {
          std::istringstream lines(ReadAll(broker_->log()));
          for (std::string line; std::getline(lines, line);) {
            if (line.find("org=" + org) != std::string::npos &&
                line.find(text) != std::string::npos &&
                line.find("enrolled org=") == std::string::npos) {
              return true;
            }
          }
          return false;
        },
        3s);
  }

  static TempDir* root_;
  static BrokerProcess* broker_;
  static std::string* start_error_;
  zmq::context_t ctx_;
};

TempDir* Hostile::root_ = nullptr;
BrokerProcess* Hostile::broker_ = nullptr;
std::string* Hostile::start_error_ = nullptr;

TEST_F(Hostile, GarbledBytesAreRefusedMalformed) {
  Client c(ctx_, Enrolled(), *broker_);
  std::mt19937 rng(42);
  std::string noise(1000, '\0');
  for (char& ch : noise) ch = static_cast<char>(rng());
  for (const std::string& bytes : {noise, std::string(), std::string("SBD\x01garbage", 11)}) {
    ASSERT_TRUE(c.SendBytes(bytes));
    std::optional<proto::Refusal> r = c.Expect<proto::Refusal>();
    ASSERT_TRUE(r.has_value()) << "no answer to garbage";
    EXPECT_EQ(r->code, proto::RefusalCode::kMalformed);
  }
  EXPECT_TRUE(LogMentions(c.org(), "malformed")) << Tail(broker_->log());
  ExpectBrokerStillServes();
}

TEST_F(Hostile, TruncatedEnvelopesAreRefusedMalformed) {
  Client c(ctx_, Enrolled(), *broker_);
  Delta d = c.OwnRecordDelta();
  std::string bytes = EncodeDelta(d);
  std::string push = proto::EncodeEnvelope(proto::Push{
      1, {proto::PushItem{1, proto::SignedDelta{bytes, c.org(), c.org(), Sign(c.id(), bytes)}}}});
  for (size_t len :
       {size_t{1}, size_t{7}, size_t{8}, size_t{16}, push.size() / 2, push.size() - 1}) {
    ASSERT_TRUE(c.SendBytes(push.substr(0, len)));
    std::optional<proto::Refusal> r = c.Expect<proto::Refusal>();
    ASSERT_TRUE(r.has_value()) << "no answer to an envelope cut at " << len;
    EXPECT_EQ(r->code, proto::RefusalCode::kMalformed) << "cut at " << len << ": " << r->message;
  }
  ExpectBrokerStillServes();
}

TEST_F(Hostile, OversizedMessageDropsTheConnection) {
  Client c(ctx_, Enrolled(), *broker_);
  ASSERT_TRUE(c.Send(c.Hello()));
  ASSERT_TRUE(c.Expect<proto::Welcome>().has_value());
  Monitor monitor(ctx_, c.socket());
  ASSERT_TRUE(c.SendBytes(std::string(proto::kMaxMessageBytes + (1 << 20), 'x')));
  EXPECT_TRUE(monitor.WaitFor(ZMQ_EVENT_DISCONNECTED, kWait)) << "the connection was not dropped";
  EXPECT_FALSE(c.Expect<proto::Refusal>(kQuiet).has_value());
  ExpectBrokerStillServes();
}

TEST_F(Hostile, WrongProtocolVersionIsRefusedWithAClearMessage) {
  Client c(ctx_, Enrolled(), *broker_);
  ASSERT_TRUE(c.Send(c.Hello(99)));
  std::optional<proto::Refusal> r = c.Expect<proto::Refusal>();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->code, proto::RefusalCode::kVersion);
  EXPECT_NE(r->message.find("protocol version 99 is not supported"), std::string::npos)
      << r->message;
  EXPECT_NE(r->message.find("speaks version " + std::to_string(proto::kProtocolVersion)),
            std::string::npos)
      << r->message;
  EXPECT_TRUE(LogMentions(c.org(), "protocol 99")) << Tail(broker_->log());
  ExpectBrokerStillServes();
}

TEST_F(Hostile, PushBeforeHelloIsRefusedHelloFirst) {
  Client c(ctx_, Enrolled(), *broker_);
  std::string bytes = EncodeDelta(c.OwnRecordDelta());
  ASSERT_TRUE(c.Send(proto::Push{
      1, {proto::PushItem{1, proto::SignedDelta{bytes, c.org(), c.org(), Sign(c.id(), bytes)}}}}));
  std::optional<proto::Refusal> r = c.Expect<proto::Refusal>();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->code, proto::RefusalCode::kHelloFirst);
  ExpectBrokerStillServes();
}

// DESIGN.md §9: one log line per event, with the organization. A refused message should be
// traceable to whoever sent it.
TEST_F(Hostile, PushBeforeHelloIsLoggedWithTheOrganization) {
  Client c(ctx_, Enrolled(), *broker_);
  std::string bytes = EncodeDelta(c.OwnRecordDelta());
  ASSERT_TRUE(c.Send(proto::Push{
      1, {proto::PushItem{1, proto::SignedDelta{bytes, c.org(), c.org(), Sign(c.id(), bytes)}}}}));
  ASSERT_TRUE(c.Expect<proto::Refusal>().has_value());
  EXPECT_TRUE(LogMentions(c.org(), "")) << "no log line names org=" << c.org() << ":\n"
                                        << Tail(broker_->log());
}

TEST_F(Hostile, PushWithAForgedSignatureIsRefused) {
  Client c(ctx_, Enrolled(), *broker_);
  ASSERT_TRUE(c.Send(c.Hello()));
  ASSERT_TRUE(c.Expect<proto::Welcome>().has_value());
  Result<Identity> other = Identity::Generate(c.org());  // same org name, another key
  ASSERT_TRUE(other.ok());
  std::string bytes = EncodeDelta(c.OwnRecordDelta());
  ASSERT_TRUE(c.Send(proto::Push{
      7, {proto::PushItem{1, proto::SignedDelta{bytes, c.org(), c.org(), Sign(*other, bytes)}}}}));
  std::optional<proto::PushAck> ack = c.Expect<proto::PushAck>();
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->batch, 7u);
  ASSERT_EQ(ack->results.size(), 1u);
  EXPECT_FALSE(ack->results[0].accepted);
  EXPECT_NE(ack->results[0].reason.find("signature"), std::string::npos) << ack->results[0].reason;
  EXPECT_TRUE(LogMentions(c.org(), "signature")) << Tail(broker_->log());
  // The same delta, signed properly, is accepted.
  ASSERT_TRUE(c.Send(proto::Push{
      8, {proto::PushItem{1, proto::SignedDelta{bytes, c.org(), c.org(), Sign(c.id(), bytes)}}}}));
  ack = c.Expect<proto::PushAck>();
  ASSERT_TRUE(ack.has_value());
  ASSERT_EQ(ack->results.size(), 1u);
  EXPECT_TRUE(ack->results[0].accepted) << ack->results[0].reason;
  ExpectBrokerStillServes();
}

TEST_F(Hostile, UnenrolledKeyGetsNoReplyAtAll) {
  Result<Identity> stranger = Identity::Generate(Uuid(0xbad));
  ASSERT_TRUE(stranger.ok());
  Client c(ctx_, *stranger, *broker_);
  c.socket().set(zmq::sockopt::sndtimeo, 1000);
  (void)c.Send(c.Hello());  // with ZMQ_IMMEDIATE this may not even be queued
  EXPECT_FALSE(c.Recv(kQuiet).has_value());
  EXPECT_TRUE(WaitFor(
      [&] {
        return ReadAll(broker_->log())
                   .find("refused a connection from key " + stranger->pub.curve_public) !=
               std::string::npos;
      },
      3s))
      << Tail(broker_->log());
  ExpectBrokerStillServes();
}

TEST_F(Hostile, RevokedClientIsCutOffWhileConnected) {
  Client c(ctx_, Enrolled(), *broker_);
  ASSERT_TRUE(c.Send(c.Hello()));
  ASSERT_TRUE(c.Expect<proto::Welcome>().has_value());
  auto [status, body] = broker_->Post("/v1/roster/" + c.org() + "/revoke", json::object());
  ASSERT_EQ(status, 200) << body;
  std::optional<proto::Refusal> r = c.Expect<proto::Refusal>();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->code, proto::RefusalCode::kRevoked);
  EXPECT_TRUE(LogMentions(c.org(), "revoked")) << Tail(broker_->log());
  ExpectBrokerStillServes();
}

}  // namespace
}  // namespace sb
