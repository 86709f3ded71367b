// The agent's local HTTP/JSON API (127.0.0.1 only). Every call but GET /healthz needs
// "Authorization: Bearer <token>". Routes:
//   GET    /healthz
//   GET    /metrics                         Prometheus text
//   GET    /v1/records?kind=&q=&limit=&cursor=
//   GET    /v1/records/{id}
//   PUT    /v1/records/{id}                 {"kind": ..., "fields": {...}}; 200 once durable
//   DELETE /v1/records/{id}
//   POST   /v1/records/{id}/restore
//   GET    /v1/records/{id}/history
//   POST   /v1/import                       HSDS 3.0 JSON; all records or none
//   GET    /v1/export?view=&format=         HSDS 3.0 compiled objects the reader may see (view:
//                                           organization (default), service,
//                                           service_at_location); format=envelope: the older
//                                           {"hsds_version", "organizations": [...]} document
//   GET    /hsds/...                        the HSDS 3.0 read API (agents/hsds_api.h)
//   GET    /v1/status                       records, outbox, sync state
//   GET    /v1/rejections                   edits the broker refused, with reasons
//   GET    /v1/quarantine                   what this agent received and could not use
//   POST   /v1/backup                       makes a store checkpoint for `switchboard backup`:
//                                           {"checkpoint": DIR/backup-<random>.tmp}
// Errors: {"error": {"code": "InvalidArgument", "message": "service.url: must be ..."}} with
// 400 (bad input), 401 (token), 404, 409 (state conflict, e.g. deleted), 413 (too large),
// 503 (shutting down), 500 (internal).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "agents/local_directory.h"

namespace httplib {
class Server;
}

namespace sb {

class ReferralBook;
class Quarantine;

class ApiServer {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 7420;  // 0 picks a free port
    std::string token;
    size_t max_body_bytes = 64 << 20;   // import documents
    size_t max_record_bytes = 1 << 20;  // one PUT
    // The organization this agent belongs to ("" for a stand-alone agent): new records
    // belong to it unless the request names an owner.
    std::string org;
    // Extra fields for GET /v1/status (the sync session's state), if any.
    std::function<nlohmann::json()> sync_status;
    // Referral routes (referral_api.h), when the agent has keys.
    ReferralBook* referrals = nullptr;
    // GET /v1/quarantine and its metrics, when set.
    Quarantine* quarantine = nullptr;
    // POST /v1/backup, when set: makes a consistent store checkpoint in a new directory inside
    // the data directory and returns it (store/backup.h CheckpointForBackup).
    std::function<Result<std::string>()> checkpoint;
  };

  ApiServer(LocalDirectory* dir, Clock* clock, Options options);
  ~ApiServer();

  // Binds; returns the bound port. Refuses non-loopback hosts.
  Result<int> Bind();
  // Serves until Stop() (from another thread or a signal handler's thread). A Stop() that
  // comes before Serve() makes Serve() return at once.
  void Serve();
  // Returns once Serve() (if running) has returned. Safe from any thread, repeatedly.
  void Stop();

 private:
  void Routes();
  // Who this agent reads as: "standalone" without a broker, else the role the broker last
  // welcomed it with ("partner" before the first Welcome).
  std::string CurrentRole() const;

  LocalDirectory* dir_;
  Clock* clock_;
  Options options_;
  std::unique_ptr<httplib::Server> http_;
  std::atomic<bool> stop_requested_{false}, serving_{false}, served_{false};
  std::atomic<int> port_{0};  // the bound port (for the Host check)
  std::atomic<uint64_t> requests_{0}, writes_{0}, refused_{0}, unauthorized_{0};
};

}  // namespace sb
