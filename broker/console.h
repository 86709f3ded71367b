// The maintainers' web console: a small HTTP server on 127.0.0.1 (`switchboard broker
// --console PORT`) serving self-contained assets (broker/console/, embedded at build time; no
// CDN, no external fonts) and a JSON API over the review queue (review_service.h), the
// directory, referral counts by status (never contents) and the audit log.
//
// Security:
//  - sign-in as a named maintainer (maintainers.h) with their name and password (Argon2id), or
//    with a token: a maintainer's own, or the coordinator's (the broker's console.token or
//    api.token, compared in constant time). Throttling is per account: more than 10 wrong
//    passwords a minute for one name answer 429 for that name only; more than 10 wrong tokens
//    a minute answer 429 to wrong tokens while a right one still signs in. Nobody is locked out
//    by failures on someone else's account;
//  - every decision made in a session is attributed to its maintainer ("<org>/<name>"; the
//    broker's organization for the coordinator's token); removing a maintainer ends their
//    sessions at their next request;
//  - a session cookie "sb_console_<port>" (32 random bytes), HttpOnly, SameSite=Strict,
//    Path=/, expiring after 8 idle hours; sessions live in memory only (a restart signs
//    everyone out);
//  - a per-session CSRF token, returned at sign-in and by GET /api/session to the console's
//    own page only (Origin, or Sec-Fetch-Site: same-origin; never on the cookie alone), required in
//    the X-CSRF-Token header of every state-changing request (403 without it), and requests
//    carrying a cross-site Origin or Sec-Fetch-Site are refused (403);
//  - the Host header must name the console's own address (DNS rebinding);
//  - a strict Content-Security-Policy (no inline script, nothing from elsewhere); the page
//    builds its DOM with textContent only, so every value is shown as text.
//
// Routes (JSON unless noted):
//   GET  /  /console.js  /console.css            the assets
//   GET  /api/session                            {"signed_in", "csrf", "who"}
//   POST /api/session   {"name","password"} | {"token"}   sign in; sets the cookie; {"csrf", "who"}
//   POST /api/logout                             (CSRF) sign out
//   GET  /api/review?kind=&org=&field=&min_age=&q=      the queue
//   GET  /api/review/{id}                        item, record, history
//   POST /api/review/{id}/approve|reject|resolve (CSRF) as the broker API
//   POST /api/review/approve  {"ids": [...]}     (CSRF) bulk approve
//   GET  /api/records?q=&kind=&limit=            directory search
//   GET  /api/records/{id}                       one record
//   GET  /api/referrals                          {"available", "by_status": {status: n}}
//   GET  /api/audit?limit=                       {"available", "entries", "chain"}
//
// Thread safety: Start/Stop from one thread; requests are served on httplib's threads.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/mutex.h"
#include "broker/broker_core.h"
#include "broker/loop_tasks.h"
#include "broker/maintainers.h"
#include "broker/review_service.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace sb {

class Console {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 0;                     // 0: any free port
    std::vector<std::string> tokens;  // the coordinator's tokens
    std::string org;                  // the broker's organization (whom those act for)
    uint64_t idle_ms = 8ULL * 3600 * 1000;
    size_t max_sessions = 64;
  };

  // `maintainers` (not null) outlives the console.
  Console(ReviewService* review, BrokerCore* core, LoopTasks* loop, const Maintainers* maintainers,
          Clock* clock, Options options);
  ~Console();
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  // Binds (127.0.0.1 only) and serves on its own thread; returns the bound port.
  Result<int> Start();
  void Stop();

 private:
  struct Session {
    std::string csrf;
    uint64_t last_ms = 0;
    std::string maintainer;  // the named maintainer; "" for the coordinator's token
    std::string actor;       // whom the session's decisions are attributed to
  };
  // Who a sign-in request names and proves: the session to open, or the reply already set.
  std::optional<Session> SignIn(const httplib::Request& req, httplib::Response& res);
  // Counts a failure for `account` ("" for tokens); true when it is now over the limit.
  bool OverLimit(const std::string& account, uint64_t now) REQUIRES(mu_);
  void Routes();
  // The session of a request (refreshing its idle timer), or null.
  std::optional<Session> SessionOf(const httplib::Request& req);
  // Refuses a state-changing request without a valid CSRF token or from another site.
  bool CheckCsrf(const httplib::Request& req, httplib::Response& res);
  std::string CookieName() const;  // per port
  // Whether a request says it comes from the console's own page (Origin, or else
  // Sec-Fetch-Site: same-origin).
  bool FromThisOrigin(const httplib::Request& req) const;
  std::string CookieValue(const httplib::Request& req) const;

  ReviewService* review_;
  BrokerCore* core_;
  LoopTasks* loop_;  // the core is read on the broker's event loop only
  const Maintainers* maintainers_;
  Clock* clock_;
  Options options_;
  int port_ = 0;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  std::atomic<bool> done_{false};
  Mutex mu_;  // guards sessions_ and the sign-in failure counters
  std::map<std::string, Session> sessions_ GUARDED_BY(mu_);  // by cookie value
  struct Failures {
    uint64_t window_ms = 0;
    int count = 0;
  };
  // Per account name ("" for wrong tokens); at most kMaxAccountsTracked names.
  std::map<std::string, Failures> failures_ GUARDED_BY(mu_);
};

}  // namespace sb
