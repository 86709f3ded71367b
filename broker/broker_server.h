// The broker process: the ZAP handler and CURVE ROUTER socket driving BrokerCore on one event
// loop thread, which alone owns the core (other threads post work to it: loop_tasks.h), and
// the broker's local HTTP API (127.0.0.1, bearer token):
//   GET  /healthz
//   GET  /metrics                      Prometheus text
//   GET  /v1/status                    log position, records, counters, connected agents
//   GET  /v1/roster                    enrolled organizations
//   POST /v1/roster                    {"identity": <identity.pub JSON>, "role":
//   partner|maintainer} POST /v1/roster/{org}/rekey|revoke|reinstate|role    the enrollment
//   ceremony (roster.h) GET  /v1/audit?n=                  the audit chain's newest entries GET
//   /v1/maintainers               the named maintainers POST /v1/maintainers               {"name",
//   "password"?}: add one (coordinator's token only);
//                                      {"name", "password", "token"}, shown once
//   POST /v1/maintainers/{name}/remove (coordinator's token only) their token and sessions end
//   /v1/review...                      the maintainers' review queue (review_api.h)
//   POST /v1/backup                    (coordinator's token only) a store checkpoint for
//                                      `switchboard backup`: {"checkpoint": DIR/backup-*.tmp}
// The bearer token is the broker's api.token (the coordinator's; actions are the broker
// organization's) or a named maintainer's own token (maintainers.h; actions are theirs).
// and, with Options::console_port >= 0, the maintainers' web console (console.h).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/mutex.h"
#include "broker/broker_core.h"
#include "broker/console.h"
#include "broker/loop_tasks.h"
#include "broker/maintainers.h"
#include "broker/review_service.h"
#include "broker/roster.h"
#include "transport/sockets.h"

namespace httplib {
class Server;
struct Request;
}  // namespace httplib

namespace sb {

class BrokerServer {
 public:
  struct Options {
    std::string listen = "tcp://127.0.0.1:7400";
    std::string api_host = "127.0.0.1";
    int api_port = 7410;  // 0: any free port
    std::string token;
    SocketLimits limits;
    BrokerCore::Options core;
    int console_port = -1;                    // -1: no console; 0: any free port
    std::vector<std::string> console_tokens;  // tokens that sign a maintainer in
    std::string data_dir;  // where POST /v1/backup makes its checkpoint ("": no such route)
  };

  BrokerServer(Store* store, Clock* clock, const Identity& identity, Options options);
  ~BrokerServer();

  // Loads state, starts ZAP, binds the socket and the API. Returns the bound API port.
  Result<int> Start();
  // The endpoint the ROUTER is bound to (resolved, e.g. with the port picked for tcp://...:*).
  std::string bound_endpoint() const { return bound_endpoint_; }
  // The console's bound port (0 when there is no console).
  int console_port() const { return console_port_; }
  // Runs until Stop(); the event loop on this thread, the API on its own threads.
  void Run();
  void Stop();

 private:
  // What GET /v1/status and /metrics read: published by the event loop.
  struct StatusSnapshot {
    BrokerStats stats;
    std::shared_ptr<const std::vector<SessionInfo>> sessions;
  };
  void Loop();
  void Routes();
  void PublishStatus(bool with_sessions);
  std::shared_ptr<const StatusSnapshot> LastStatus() const;
  // Who sent a request the pre-routing check let in: "<org>/<name>" for a named maintainer's
  // token, the broker's organization for its own token.
  std::string ActorOf(const httplib::Request& req) const;
  bool FromCoordinator(const httplib::Request& req) const;

  Store* store_;  // kept for the server's lifetime; read by POST /v1/backup
  Clock* clock_;
  const Identity& identity_;
  Options options_;
  Roster roster_;
  Maintainers maintainers_;
  // The event loop owns core_: the API's and the console's threads hand it work through
  // tasks_ (review decisions, enrollments, reads of the core) and never touch it themselves.
  LoopTasks tasks_;
  BrokerCore core_;
  ReviewService review_{&core_, &tasks_, identity_.pub.org};
  std::unique_ptr<Console> console_;
  int console_port_ = 0;
  std::atomic<int> api_port_{0};  // the API's bound port (for the Host check)
  std::unique_ptr<httplib::Server> http_;
  std::thread api_thread_;
  std::string bound_endpoint_;
  mutable Mutex status_mu_;  // guards status_ (the pointer, not what it points to)
  std::shared_ptr<const StatusSnapshot> status_ GUARDED_BY(status_mu_);
  std::atomic<bool> stop_{false}, api_done_{false};
  struct Zmq;
  std::unique_ptr<Zmq> zmq_;
};

}  // namespace sb
