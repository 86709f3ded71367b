#include "broker/broker_server.h"

#include <httplib.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "base/json.h"
#include "base/utf8.h"
#include "broker/review_api.h"
#include "transport/http_auth.h"
#include "transport/http_reply.h"
#include "transport/zap.h"

namespace sb {

using nlohmann::json;

struct BrokerServer::Zmq {
  zmq::context_t ctx{1};
  std::unique_ptr<ZapAuthenticator> zap;
  zmq::socket_t router;
};

namespace {

json MemberJson(const Member& m) {
  return {{"org", m.identity.org},
          {"role", RoleName(m.role)},
          {"curve", m.identity.curve_public},
          {"enrolled_at", m.enrolled_at_ms},
          {"revoked", m.revoked}};
}

}  // namespace

BrokerServer::BrokerServer(Store* store, Clock* clock, const Identity& identity, Options options)
    : store_(store), clock_(clock), identity_(identity), options_(std::move(options)),
      roster_(store), core_(store, clock, identity, &roster_, options_.core),
      http_(std::make_unique<httplib::Server>()), zmq_(std::make_unique<Zmq>()) {
  Routes();
}

BrokerServer::~BrokerServer() { Stop(); }

Result<int> BrokerServer::Start() {
  RETURN_IF_ERROR(roster_.Load());
  RETURN_IF_ERROR(core_.Load());
  try {
    zmq_->zap = std::make_unique<ZapAuthenticator>(
        zmq_->ctx,
        [this](const std::string& key) { return roster_.AuthorizeCurve(key); },
        [](const std::string& key, const std::string& why) {
          spdlog::warn("broker: refused a connection from key {}: {}", key, why);
        });
  } catch (const std::exception& e) {
    return Status::Internal(std::string("cannot start the ZAP handler: ") + e.what());
  }
  ASSIGN_OR_RETURN(zmq_->router,
                   MakeBrokerSocket(zmq_->ctx, identity_, options_.listen, options_.limits));
  bound_endpoint_ = zmq_->router.get(zmq::sockopt::last_endpoint);
  if (options_.api_host != "127.0.0.1") {
    return Status::InvalidArgument("the broker's API listens on 127.0.0.1 only");
  }
  int port = options_.api_port;
  if (port == 0) {
    port = http_->bind_to_any_port(options_.api_host);
    if (port <= 0) return Status::Unavailable("cannot bind the broker API");
  } else if (!http_->bind_to_port(options_.api_host, port)) {
    return Status::Unavailable("cannot listen on " + options_.api_host + ":" +
                               std::to_string(port) + " (in use? choose another with --api)");
  }
  api_thread_ = std::thread([this] {
    http_->listen_after_bind();
    api_done_ = true;
  });
  if (options_.console_port >= 0) {
    Console::Options co;
    co.port = options_.console_port;
    co.tokens = options_.console_tokens;
    console_ = std::make_unique<Console>(&review_, &core_, &core_mu_, clock_, co);
    ASSIGN_OR_RETURN(console_port_, console_->Start());
  }
  return port;
}

void BrokerServer::Run() { Loop(); }

void BrokerServer::Stop() {
  stop_ = true;
  if (console_) console_->Stop();
  if (!api_thread_.joinable()) return;
  // httplib ignores stop() until its listen loop runs: repeat until the API thread is done.
  while (!api_done_) {
    http_->stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  api_thread_.join();
}

void BrokerServer::Loop() {
  zmq::socket_t& router = zmq_->router;
  std::vector<Outgoing> out;
  auto flush = [&] {
    for (Outgoing& o : out) {
      zmq::message_t id(o.peer.data(), o.peer.size());
      zmq::message_t body(o.bytes.data(), o.bytes.size());
      try {
        if (!router.send(id, zmq::send_flags::sndmore | zmq::send_flags::dontwait) ||
            !router.send(body, zmq::send_flags::dontwait)) {
          core_.OnDisconnected(o.peer);  // queue full: the agent starts over on reconnect
        }
      } catch (const zmq::error_t& e) {
        // EHOSTUNREACH (ROUTER_MANDATORY): the peer is gone.
        core_.OnDisconnected(o.peer);
      }
    }
    out.clear();
  };
  spdlog::info("broker: listening on {}", bound_endpoint_);
  while (!stop_) {
    zmq::pollitem_t items[] = {{router.handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 1, std::chrono::milliseconds(50));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      spdlog::error("broker: poll failed: {}", e.what());
      break;
    }
    std::lock_guard lock(core_mu_);
    // One turn of the loop. BrokerCore never throws; a socket error (libzmq throws for any
    // errno but EAGAIN) is logged and the loop goes on: no message can stop the broker.
    try {
      if (items[0].revents & ZMQ_POLLIN) {
        for (int i = 0; i < 256; ++i) {
          zmq::message_t id, body;
          if (!router.recv(id, zmq::recv_flags::dontwait)) break;
          bool more = router.get(zmq::sockopt::rcvmore);
          if (!more) continue;  // a ROUTER message always has the routing id first
          if (!router.recv(body, zmq::recv_flags::dontwait)) break;
          while (router.get(zmq::sockopt::rcvmore)) {  // extra frames: not our protocol
            zmq::message_t extra;
            (void)router.recv(extra, zmq::recv_flags::dontwait);
          }
          const char* user = body.gets("User-Id");
          std::string org = user ? user : "";
          std::string peer(static_cast<const char*>(id.data()), id.size());
          if (org.empty()) continue;  // impossible with ZAP enforced; never trust it anyway
          core_.OnMessage(peer, org,
                          std::string_view(static_cast<const char*>(body.data()), body.size()),
                          &out);
          flush();
        }
      }
      core_.Pump(&out);
      flush();
    } catch (const zmq::error_t& e) {
      out.clear();
      if (e.num() == ETERM) break;
      spdlog::error("broker: socket error: {}", e.what());
    } catch (const std::exception& e) {
      out.clear();
      spdlog::error("broker: unexpected error in the event loop: {}", Printable(e.what(), 300));
    }
  }
}

void BrokerServer::Routes() {
  httplib::Server& s = *http_;
  s.set_payload_max_length(1 << 20);
  HandleHttpErrors(s, "broker", "no such endpoint; see switchboard broker --help");
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (Status text = CheckRequestText(req); !text.ok()) {
      ReplyError(res, text);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.path == "/healthz") return httplib::Server::HandlerResponse::Unhandled;
    bool ok = BearerMatches(req.get_header_value("Authorization"), options_.token);
    if (ok) return httplib::Server::HandlerResponse::Unhandled;
    ReplyError(res, Status::Unauthenticated("missing or wrong token (see the broker's api.token)"));
    return httplib::Server::HandlerResponse::Handled;
  });
  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    ReplyJson(res, 200, {{"status", "ok"}});
  });
  auto status_json = [this] {
    std::lock_guard lock(core_mu_);
    BrokerStats st = core_.stats();
    json sessions = json::array();
    for (const SessionInfo& si : core_.Sessions()) {
      char rep[20];
      std::snprintf(rep, sizeof rep, "%016llx", static_cast<unsigned long long>(si.replica));
      sessions.push_back({{"org", si.org}, {"role", si.role}, {"replica", rep},
                          {"sent", si.sent}, {"acked", si.acked}, {"credits", si.credits}});
    }
    return json{{"listen", bound_endpoint_},
                {"log_head", st.log_head},
                {"log_start", st.log_start},
                {"records", st.records},
                {"pushes", st.pushes},
                {"accepted", st.accepted},
                {"rejected", st.rejected},
                {"throttled", st.throttled},
                {"malformed", st.malformed},
                {"failed", st.failed},
                {"quarantined", st.quarantined},
                {"bytes_out", st.bytes_out},
                {"updates_out", st.updates_out},
                {"snapshots", st.snapshots},
                {"agents", sessions}};
  };
  s.Get("/v1/status", [status_json](const httplib::Request&, httplib::Response& res) {
    ReplyJson(res, 200, status_json());
  });
  s.Get("/metrics", [status_json](const httplib::Request&, httplib::Response& res) {
    json st = status_json();
    std::string m;
    for (const char* k : {"log_head", "records", "pushes", "accepted", "rejected", "throttled",
                          "malformed", "failed", "quarantined", "bytes_out", "updates_out",
                          "snapshots"}) {
      m += std::string("switchboard_broker_") + k + " " + std::to_string(st[k].get<uint64_t>()) + "\n";
    }
    m += "switchboard_broker_agents_connected " + std::to_string(st["agents"].size()) + "\n";
    res.set_content(m, "text/plain; version=0.0.4");
  });
  s.Get("/v1/quarantine", [this](const httplib::Request&, httplib::Response& res) {
    // The quarantine is thread-safe: no need to wait for the event loop.
    auto list = core_.quarantine().List(Quarantine::kMaxKept);
    if (!list.ok()) return ReplyError(res, list.status());
    json out = json::array();
    for (const QuarantineEntry& e : *list) out.push_back(QuarantineJson(e));
    ReplyJson(res, 200, {{"quarantine", out}, {"kept", core_.quarantine().kept()}});
  });
  s.Get("/v1/roster", [this](const httplib::Request&, httplib::Response& res) {
    json list = json::array();
    for (const Member& m : roster_.List()) list.push_back(MemberJson(m));
    ReplyJson(res, 200, {{"roster", list}});
  });
  s.Post("/v1/roster", [this](const httplib::Request& req, httplib::Response& res) {
    Result<json> parsed = ParseBody(req, JsonLimits{64 << 10, 8});
    if (!parsed.ok()) return ReplyError(res, parsed.status());
    const json& body = *parsed;
    if (!body.is_object() || !body.contains("identity") ||
        !body["identity"].is_object() || !body.contains("role") || !body["role"].is_string()) {
      return ReplyError(res, Status::InvalidArgument(
                           "body must be {\"identity\": <identity.pub>, \"role\": partner|maintainer}"));
    }
    Result<PublicIdentity> id = ParsePublicIdentity(DumpJson(body["identity"]));
    if (!id.ok()) return ReplyError(res, id.status());
    Result<Role> role = ParseRole(body["role"].get<std::string>());
    if (!role.ok()) return ReplyError(res, role.status());
    if (id->curve_public == identity_.pub.curve_public) {
      return ReplyError(res, Status::InvalidArgument("that is the broker's own identity"));
    }
    Status st = roster_.Enroll(*id, *role, clock_->NowMillis());
    if (!st.ok()) return ReplyError(res, st);
    spdlog::info("broker: enrolled org={} as {}", id->org, RoleName(*role));
    ReplyJson(res, 200, MemberJson(*roster_.Find(id->org)));
  });
  s.Post(R"(/v1/roster/([^/]+)/revoke)", [this](const httplib::Request& req,
                                                 httplib::Response& res) {
    std::string org = req.matches[1];
    Status st = roster_.Revoke(org);
    if (!st.ok()) return ReplyError(res, st);
    spdlog::warn("broker: revoked org={}", org);
    ReplyJson(res, 200, MemberJson(*roster_.Find(org)));
  });
  AddReviewRoutes(s, review_, "/v1");
}

}  // namespace sb
