#include "broker/broker_server.h"

#include <httplib.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "base/json.h"
#include "base/utf8.h"
#include "broker/internal/review_api.h"
#include "http/http_auth.h"
#include "http/http_limits.h"
#include "http/http_reply.h"
#include "store/backup.h"
#include "transport/zap.h"

namespace sb {

using nlohmann::json;

struct BrokerServer::Zmq {
  zmq::context_t ctx;
  std::unique_ptr<ZapAuthenticator> zap;
  zmq::socket_t router;
};

namespace {

json MemberJson(const Member& m) {
  return {{"org", m.identity.org},
          {"role", RoleName(m.role)},
          {"curve", m.identity.curve_public},
          {"fingerprint", Fingerprint(m.identity)},
          {"key_epoch", m.key_epoch},
          {"enrolled_at", m.enrolled_at_ms},
          {"revoked", m.revoked}};
}

// The identity in a roster request's body ({"identity": <identity.pub>, ...}).
Result<PublicIdentity> BodyIdentity(const json& body) {
  if (!body.is_object() || !body.contains("identity") || !body["identity"].is_object()) {
    return Status::InvalidArgument("body must have \"identity\": <identity.pub>");
  }
  return ParsePublicIdentity(DumpJson(body["identity"]));
}

}  // namespace

BrokerServer::BrokerServer(Store* store, Clock* clock, const Identity& identity, Options options)
    : store_(store),
      clock_(clock),
      identity_(identity),
      options_(std::move(options)),
      roster_(store),
      maintainers_(store),
      core_(store, clock, identity, &roster_, options_.core),
      http_(std::make_unique<BoundedHttpServer>()),
      zmq_(std::make_unique<Zmq>()) {
  // CURVE encryption runs on ZeroMQ's I/O threads: one per core. Sockets: one per connection.
  int cores = static_cast<int>(std::max(1u, std::min(8u, std::thread::hardware_concurrency())));
  zmq_->ctx.set(zmq::ctxopt::io_threads, cores);
  zmq_->ctx.set(zmq::ctxopt::max_sockets, 65535);
  Routes();
}

BrokerServer::~BrokerServer() {
  Stop();
}

Result<int> BrokerServer::Start() {
  RETURN_IF_ERROR(roster_.Load());
  RETURN_IF_ERROR(maintainers_.Load());
  RETURN_IF_ERROR(core_.Load());
  try {
    zmq_->zap = std::make_unique<ZapAuthenticator>(
        // The ZAP User-Id is the key itself, not the organization: each message's organization
        // is looked up from it (below), so a key replaced or revoked stops speaking for the
        // organization on connections it already has, not only on new ones.
        zmq_->ctx,
        [this](const std::string& key) -> std::optional<std::string> {
          if (!roster_.AuthorizeCurve(key)) return std::nullopt;
          return key;
        },
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
  api_port_ = port;
  api_thread_ = std::thread([this] {
    http_->listen_after_bind();
    api_done_ = true;
  });
  if (options_.console_port >= 0) {
    Console::Options co;
    co.port = options_.console_port;
    co.tokens = options_.console_tokens;
    co.org = identity_.pub.org;
    console_ = std::make_unique<Console>(&review_, &core_, &tasks_, &maintainers_, clock_, co);
    ASSIGN_OR_RETURN(console_port_, console_->Start());
  }
  return port;
}

void BrokerServer::Run() {
  Loop();
}

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
      // The bytes may be shared by many peers' messages (one projection of a log entry for a
      // whole view): ZeroMQ sends them without a copy and releases them when all are sent.
      auto* hold = new SharedBytes(std::move(o.message));
      zmq::message_t body(
          const_cast<char*>((*hold)->data()), (*hold)->size(),
          [](void*, void* hint) { delete static_cast<SharedBytes*>(hint); }, hold);
      try {
        if (!router.send(id, zmq::send_flags::sndmore | zmq::send_flags::dontwait) ||
            !router.send(body, zmq::send_flags::dontwait)) {
          // The peer's queue is full: flow control keeps far below the high-water mark, so
          // this peer is not reading at all. It starts over when it says Hello again.
          core_.OnDisconnected(o.peer);
        }
      } catch (const zmq::error_t& e) {
        // EHOSTUNREACH (ROUTER_MANDATORY): the peer is gone.
        core_.OnDisconnected(o.peer);
      }
    }
    out.clear();
  };
  spdlog::info("broker: listening on {}", bound_endpoint_);
  // Whether libzmq tells of disconnects (sockets.cpp asks; Debian's 4.3 build cannot).
  int notify = 0;
  size_t notify_size = sizeof notify;
  bool notify_disconnect =
      zmq_getsockopt(router.handle(), 97 /* ZMQ_ROUTER_NOTIFY */, &notify, &notify_size) == 0 &&
      (notify & 2 /* ZMQ_NOTIFY_DISCONNECT */) != 0;
  bool more = false;
  uint64_t next_snapshot_ms = 0;
  // From here until the loop ends, the API's and console's work runs on this thread.
  tasks_.Start();
  struct FinishTasks {
    LoopTasks& tasks;
    ~FinishTasks() { tasks.Finish(); }
  } finish_tasks{tasks_};
  while (!stop_) {
    zmq::pollitem_t items[] = {{router.handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, tasks_.wake_fd(), ZMQ_POLLIN, 0}};
    try {
      // Work left from the last turn: only look at the socket, do not wait on it.
      zmq::poll(items, tasks_.wake_fd() >= 0 ? 2 : 1, std::chrono::milliseconds(more ? 0 : 50));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      spdlog::error("broker: poll failed: {}", e.what());
      break;
    }
    // One turn of the loop: the tasks other threads posted, a bounded number of messages in,
    // one group commit, a bounded amount of streaming out. BrokerCore never throws; a socket error
    // (libzmq throws for any errno but EAGAIN) is logged and the loop goes on: no message can stop
    // the broker.
    try {
      // Decisions, enrollments and reads posted by the API and console threads, when the wake
      // fd says there are some (no read of it on every turn); what a decision wrote is streamed
      // by this turn's Pump.
      if (tasks_.wake_fd() < 0 || (items[1].revents & ZMQ_POLLIN)) tasks_.RunPending();
      if (items[0].revents & ZMQ_POLLIN) {
        for (int i = 0; i < 1024; ++i) {
          zmq::message_t id, body;
          if (!router.recv(id, zmq::recv_flags::dontwait)) break;
          bool frame_more = router.get(zmq::sockopt::rcvmore);
          if (!frame_more) continue;  // a ROUTER message always has the routing id first
          if (!router.recv(body, zmq::recv_flags::dontwait)) break;
          while (router.get(zmq::sockopt::rcvmore)) {  // extra frames: not our protocol
            zmq::message_t extra;
            (void)router.recv(extra, zmq::recv_flags::dontwait);
          }
          std::string peer(static_cast<const char*>(id.data()), id.size());
          if (body.size() == 0 && notify_disconnect) {
            // ZMQ_ROUTER_NOTIFY: the peer's connection is gone (an empty message is never
            // our protocol, so a peer sending one only ends its own session).
            core_.OnDisconnected(peer);
            continue;
          }
          const char* user = body.gets("User-Id");  // the CURVE key (see Start)
          if (!user || !*user) continue;  // impossible with ZAP enforced; never trust it anyway
          std::string org = roster_.AuthorizeCurve(user).value_or("");
          core_.OnMessage(peer, org,
                          std::string_view(static_cast<const char*>(body.data()), body.size()),
                          &out);
        }
      }
      more = core_.Pump(&out);
      // Counters every turn (before the acks go out, so a reader who saw an ack sees its
      // effect); the session list, O(sessions), at most every 200 ms.
      uint64_t now = clock_->MonotonicMillis();
      PublishStatus(now >= next_snapshot_ms);
      if (now >= next_snapshot_ms) next_snapshot_ms = now + 200;
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

void BrokerServer::PublishStatus(bool with_sessions) {
  auto snapshot = std::make_shared<StatusSnapshot>();
  snapshot->stats = core_.stats();
  if (with_sessions) {
    snapshot->sessions = std::make_shared<const std::vector<SessionInfo>>(core_.Sessions());
  }
  MutexLock lock(status_mu_);
  if (!with_sessions && status_) snapshot->sessions = status_->sessions;
  status_ = std::move(snapshot);
}

std::shared_ptr<const BrokerServer::StatusSnapshot> BrokerServer::LastStatus() const {
  MutexLock lock(status_mu_);
  return status_;
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
    if (!LocalHostMatches(req.get_header_value("Host"), api_port_)) {
      ReplyError(
          res, Status::PermissionDenied("unexpected Host header: the API answers only requests for "
                                        "127.0.0.1:PORT or localhost:PORT"));
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.path == "/healthz") return httplib::Server::HandlerResponse::Unhandled;
    if (FromCoordinator(req) || ActorOf(req) != identity_.pub.org) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    ReplyError(res, Status::Unauthenticated(
                        "missing or wrong token (the broker's api.token, or a maintainer's own "
                        "token from `switchboard maintainer add` in SWITCHBOARD_TOKEN)"));
    return httplib::Server::HandlerResponse::Handled;
  });
  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    ReplyJson(res, 200, {{"status", "ok"}});
  });
  // Read from the snapshot the event loop publishes (every 200 ms): a status request never
  // waits for the loop, however busy it is.
  auto status_json = [this] {
    std::shared_ptr<const StatusSnapshot> snap = LastStatus();
    if (!snap) snap = std::make_shared<StatusSnapshot>();
    const BrokerStats& st = snap->stats;
    json sessions = json::array();
    static const std::vector<SessionInfo> kNone;
    for (const SessionInfo& si : snap->sessions ? *snap->sessions : kNone) {
      sessions.push_back({{"org", si.org},
                          {"role", si.role},
                          {"replica", ReplicaHex(si.replica)},
                          {"sent", si.sent},
                          {"acked", si.acked},
                          {"window", si.window},
                          {"in_flight_bytes", si.in_flight_bytes},
                          {"checkpoint", si.checkpoint}});
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
                {"sessions", st.sessions},
                {"hellos", st.hellos},
                {"session_resumes", st.resumes},
                {"session_restarts", st.restarts},
                {"sessions_dropped", st.dropped},
                {"rewinds", st.rewinds},
                {"group_commits", st.group_commits},
                {"pushes_committed", st.pushes_committed},
                {"projections_made", st.projections_made},
                {"projections_reused", st.projections_reused},
                {"checkpoints_built", st.checkpoints_built},
                {"quota_refusals", st.quota_refusals},
                {"catchup_refusals", st.catchup_refusals},
                {"log_quota_refusals", st.log_quota_refusals},
                {"pushes_queued", st.pushes_queued},
                {"coalesced", st.coalesced},
                {"agents", sessions}};
  };
  s.Get("/v1/status", [status_json](const httplib::Request&, httplib::Response& res) {
    ReplyJson(res, 200, status_json());
  });
  s.Get("/metrics", [status_json](const httplib::Request&, httplib::Response& res) {
    json st = status_json();
    std::string m;
    for (const char* k : {"log_head",
                          "records",
                          "pushes",
                          "accepted",
                          "rejected",
                          "throttled",
                          "malformed",
                          "failed",
                          "quarantined",
                          "bytes_out",
                          "updates_out",
                          "snapshots",
                          "sessions",
                          "hellos",
                          "session_resumes",
                          "session_restarts",
                          "sessions_dropped",
                          "rewinds",
                          "group_commits",
                          "pushes_committed",
                          "projections_made",
                          "projections_reused",
                          "checkpoints_built",
                          "quota_refusals",
                          "catchup_refusals",
                          "log_quota_refusals",
                          "pushes_queued",
                          "coalesced"}) {
      m += std::string("switchboard_broker_") + k + " " + std::to_string(st[k].get<uint64_t>()) +
           "\n";
    }
    m += "switchboard_broker_agents_connected " + std::to_string(st["sessions"].get<uint64_t>()) +
         "\n";
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
  s.Get("/v1/audit", [this](const httplib::Request& req, httplib::Response& res) {
    // The audit chain's newest entries (?n=, default 100, at most 10,000), and whether the
    // whole chain verifies. AuditLog is thread-safe; the walk reads a consistent store.
    size_t n = 100;
    if (req.has_param("n")) {
      try {
        n = std::min<size_t>(std::stoul(req.get_param_value("n")), 10'000);
      } catch (const std::exception&) {
        return ReplyError(res, Status::InvalidArgument("n: must be a number"));
      }
    }
    // On the loop, as the console's: the chain's head and its entries are read as one state.
    auto [tail, check] =
        tasks_.Call([&] { return std::pair(core_.audit().Tail(n), AuditLog::Verify(*store_)); });
    if (!tail.ok()) return ReplyError(res, tail.status());
    if (!check.ok()) return ReplyError(res, check.status());
    json entries = json::array();
    for (const AuditEntry& e : *tail) entries.push_back(AuditEntryJson(e));
    ReplyJson(res, 200,
              {{"entries", entries},
               {"verified", check->ok},
               {"length", check->entries},
               {"problem", check->problem}});
  });
  s.Get("/v1/roster", [this](const httplib::Request&, httplib::Response& res) {
    json list = json::array();
    for (const Member& m : roster_.List()) list.push_back(MemberJson(m));
    ReplyJson(res, 200, {{"roster", list}});
  });
  auto NotTheBrokersOwn = [this](const PublicIdentity& id) {
    return id.curve_public == identity_.pub.curve_public
               ? Status::InvalidArgument("that is the broker's own identity")
               : Status::Ok();
  };
  // Enrollment, step by step (Roster): each change is made on the loop, with its audit entry.
  s.Post("/v1/roster", [this, NotTheBrokersOwn](const httplib::Request& req,
                                                httplib::Response& res) {
    Result<json> parsed = ParseBody(req, JsonLimits{64 << 10, 8});
    if (!parsed.ok()) return ReplyError(res, parsed.status());
    const json& body = *parsed;
    if (!body.is_object() || !body.contains("role") || !body["role"].is_string()) {
      return ReplyError(
          res, Status::InvalidArgument(
                   "body must be {\"identity\": <identity.pub>, \"role\": partner|maintainer}"));
    }
    Result<PublicIdentity> id = BodyIdentity(body);
    if (!id.ok()) return ReplyError(res, id.status());
    Result<Role> role = ParseRole(body["role"].get<std::string>());
    if (!role.ok()) return ReplyError(res, role.status());
    if (Status own = NotTheBrokersOwn(*id); !own.ok()) return ReplyError(res, own);
    // On the loop: the enrollment's synced write is the loop's, never one it waits for.
    std::string actor = ActorOf(req);
    Status st = tasks_.Call(
        [&] { return roster_.Enroll(*id, *role, clock_->NowMillis(), &core_.audit(), actor); });
    if (!st.ok()) return ReplyError(res, st);
    spdlog::info("broker: enrolled org={} as {}, fingerprint {}", id->org, RoleName(*role),
                 Fingerprint(*id));
    ReplyJson(res, 200, MemberJson(*roster_.Find(id->org)));
  });
  s.Post(R"(/v1/roster/([^/]+)/rekey)",
         [this, NotTheBrokersOwn](const httplib::Request& req, httplib::Response& res) {
           Result<json> parsed = ParseBody(req, JsonLimits{64 << 10, 8});
           if (!parsed.ok()) return ReplyError(res, parsed.status());
           Result<PublicIdentity> id = BodyIdentity(*parsed);
           if (!id.ok()) return ReplyError(res, id.status());
           std::string org = req.matches[1];
           if (id->org != org) {
             return ReplyError(res, Status::InvalidArgument("the new identity names organization " +
                                                            id->org + ", not " + org));
           }
           if (Status own = NotTheBrokersOwn(*id); !own.ok()) return ReplyError(res, own);
           Member before;
           std::string actor = ActorOf(req);
           Status st = tasks_.Call([&] {
             return roster_.Rekey(*id, clock_->NowMillis(), &before, &core_.audit(), actor);
           });
           if (!st.ok()) return ReplyError(res, st);
           spdlog::warn(
               "broker: new keys for org={}: fingerprint {} replaces {}; sessions of the old "
               "key are cut",
               org, Fingerprint(*id), Fingerprint(before.identity));
           json out = MemberJson(*roster_.Find(org));
           out["previous_fingerprint"] = Fingerprint(before.identity);
           ReplyJson(res, 200, out);
         });
  s.Post(R"(/v1/roster/([^/]+)/revoke)",
         [this](const httplib::Request& req, httplib::Response& res) {
           std::string org = req.matches[1];
           std::string actor = ActorOf(req);
           Status st = tasks_.Call(
               [&] { return roster_.Revoke(org, clock_->NowMillis(), &core_.audit(), actor); });
           if (!st.ok()) return ReplyError(res, st);
           spdlog::warn("broker: revoked org={}", org);
           ReplyJson(res, 200, MemberJson(*roster_.Find(org)));
         });
  s.Post(R"(/v1/roster/([^/]+)/role)", [this](const httplib::Request& req, httplib::Response& res) {
    Result<json> parsed = ParseBody(req, JsonLimits{4 << 10, 4});
    if (!parsed.ok()) return ReplyError(res, parsed.status());
    if (!parsed->is_object() || !parsed->contains("role") || !(*parsed)["role"].is_string()) {
      return ReplyError(res,
                        Status::InvalidArgument("body must be {\"role\": partner|maintainer}"));
    }
    Result<Role> role = ParseRole((*parsed)["role"].get<std::string>());
    if (!role.ok()) return ReplyError(res, role.status());
    std::string org = req.matches[1];
    std::string actor = ActorOf(req);
    Status st = tasks_.Call(
        [&] { return roster_.SetRole(org, *role, clock_->NowMillis(), &core_.audit(), actor); });
    if (!st.ok()) return ReplyError(res, st);
    spdlog::warn("broker: org={} is now a {}", org, RoleName(*role));
    ReplyJson(res, 200, MemberJson(*roster_.Find(org)));
  });
  s.Post(R"(/v1/roster/([^/]+)/reinstate)",
         [this, NotTheBrokersOwn](const httplib::Request& req, httplib::Response& res) {
           std::string org = req.matches[1];
           std::optional<PublicIdentity> keys;
           if (!req.body.empty()) {
             Result<json> parsed = ParseBody(req, JsonLimits{64 << 10, 8});
             if (!parsed.ok()) return ReplyError(res, parsed.status());
             if (parsed->is_object() && parsed->contains("identity")) {
               Result<PublicIdentity> id = BodyIdentity(*parsed);
               if (!id.ok()) return ReplyError(res, id.status());
               if (Status own = NotTheBrokersOwn(*id); !own.ok()) return ReplyError(res, own);
               keys = *id;
             }
           }
           std::string actor = ActorOf(req);
           Status st = tasks_.Call([&] {
             return roster_.Reinstate(org, clock_->NowMillis(), keys ? &*keys : nullptr,
                                      &core_.audit(), actor);
           });
           if (!st.ok()) return ReplyError(res, st);
           spdlog::warn("broker: reinstated org={}{}", org, keys ? " with new keys" : "");
           ReplyJson(res, 200, MemberJson(*roster_.Find(org)));
         });
  // Maintainers as people: added and removed with the coordinator's own token.
  s.Get("/v1/maintainers", [this](const httplib::Request&, httplib::Response& res) {
    json list = json::array();
    for (const MaintainerInfo& m : maintainers_.List()) {
      list.push_back({{"name", m.name},
                      {"actor", MaintainerActor(identity_.pub.org, m.name)},
                      {"added_at", IsoTime(m.added_at_ms)},
                      {"added_by", m.added_by}});
    }
    ReplyJson(res, 200, {{"maintainers", list}});
  });
  if (!options_.data_dir.empty()) {
    // RocksDB makes a checkpoint beside concurrent writes: no need to stop the loop.
    s.Post("/v1/backup", [this](const httplib::Request& req, httplib::Response& res) {
      if (!FromCoordinator(req)) {
        return ReplyError(res, Status::PermissionDenied(
                                   "only the coordinator (the broker's api.token) makes backups"));
      }
      Result<std::string> dir = CheckpointForBackup(*store_, options_.data_dir);
      if (!dir.ok()) return ReplyError(res, dir.status());
      spdlog::info("broker: store checkpoint for a backup made in {}", *dir);
      ReplyJson(res, 200, {{"checkpoint", *dir}});
    });
  }
  s.Post("/v1/maintainers", [this](const httplib::Request& req, httplib::Response& res) {
    if (!FromCoordinator(req)) {
      return ReplyError(res, Status::PermissionDenied(
                                 "only the coordinator (the broker's api.token) adds maintainers"));
    }
    Result<json> parsed = ParseBody(req, JsonLimits{4 << 10, 4});
    if (!parsed.ok()) return ReplyError(res, parsed.status());
    const json& body = *parsed;
    if (!body.is_object() || !body.contains("name") || !body["name"].is_string() ||
        (body.contains("password") && !body["password"].is_string())) {
      return ReplyError(res, Status::InvalidArgument(
                                 "body must be {\"name\": NAME, \"password\": optional text}"));
    }
    std::string name = body["name"].get<std::string>();
    std::string password = body.value("password", "");
    std::string actor = ActorOf(req);
    Result<MaintainerCredentials> c = tasks_.Call([&] {
      return maintainers_.Add(name, password, clock_->NowMillis(), &core_.audit(), actor);
    });
    if (!c.ok()) return ReplyError(res, c.status());
    spdlog::info("broker: maintainer {} added by {}", name, actor);
    ReplyJson(res, 200,
              {{"name", c->name},
               {"actor", MaintainerActor(identity_.pub.org, c->name)},
               {"password", c->password},
               {"token", c->token}});
  });
  s.Post(R"(/v1/maintainers/([^/]{1,64})/remove)", [this](const httplib::Request& req,
                                                          httplib::Response& res) {
    if (!FromCoordinator(req)) {
      return ReplyError(
          res, Status::PermissionDenied("only the coordinator (the broker's api.token) removes "
                                        "maintainers"));
    }
    std::string name = req.matches[1];
    std::string actor = ActorOf(req);
    Status st = tasks_.Call(
        [&] { return maintainers_.Remove(name, clock_->NowMillis(), &core_.audit(), actor); });
    if (!st.ok()) return ReplyError(res, st);
    spdlog::warn("broker: maintainer {} removed by {}; their token and sessions end", name, actor);
    ReplyJson(res, 200, {{"name", name}, {"removed", true}});
  });
  AddReviewRoutes(s, review_, "/v1", "api",
                  [this](const httplib::Request& req) { return ActorOf(req); });
}

bool BrokerServer::FromCoordinator(const httplib::Request& req) const {
  return BearerMatches(req.get_header_value("Authorization"), options_.token);
}

std::string BrokerServer::ActorOf(const httplib::Request& req) const {
  std::string auth = req.get_header_value("Authorization");
  if (auth.rfind("Bearer ", 0) == 0) {
    if (std::optional<std::string> name = maintainers_.ByToken(auth.substr(7))) {
      return MaintainerActor(identity_.pub.org, *name);
    }
  }
  return identity_.pub.org;
}

}  // namespace sb
