#include "broker/console.h"

#include <httplib.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "base/json.h"
#include "broker/internal/console_assets.h"
#include "broker/internal/review_api.h"
#include "http/http_auth.h"
#include "http/http_limits.h"
#include "http/http_reply.h"
#include "store/audit.h"

namespace sb {

using nlohmann::json;

namespace {

constexpr char kCookiePrefix[] = "sb_console_";

std::string RandomHex(size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  randombytes_buf(buf.data(), buf.size());
  std::string hex(bytes * 2, '0');
  sodium_bin2hex(hex.data(), hex.size() + 1, buf.data(), buf.size());
  return hex;
}

bool SameSecret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && !a.empty() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

void SecurityHeaders(httplib::Response& res) {
  res.set_header("Content-Security-Policy",
                 "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                 "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Cache-Control", "no-store");
}

}  // namespace

Console::Console(ReviewService* review, BrokerCore* core, LoopTasks* loop,
                 const Maintainers* maintainers, Clock* clock, Options options)
    : review_(review),
      core_(core),
      loop_(loop),
      maintainers_(maintainers),
      clock_(clock),
      options_(std::move(options)),
      http_(std::make_unique<BoundedHttpServer>()) {
  Routes();
}

Console::~Console() {
  Stop();
}

Result<int> Console::Start() {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  if (options_.host != "127.0.0.1") {
    return Status::InvalidArgument("the console listens on 127.0.0.1 only");
  }
  if (options_.tokens.empty()) {
    return Status::InvalidArgument("the console needs the coordinator's sign-in token");
  }
  if (options_.port == 0) {
    port_ = http_->bind_to_any_port(options_.host);
    if (port_ <= 0) return Status::Unavailable("cannot bind a port for the console");
  } else {
    if (!http_->bind_to_port(options_.host, options_.port)) {
      return Status::Unavailable("cannot listen on " + options_.host + ":" +
                                 std::to_string(options_.port) +
                                 " for the console (in use? choose another with --console)");
    }
    port_ = options_.port;
  }
  thread_ = std::thread([this] {
    http_->listen_after_bind();
    done_ = true;
  });
  return port_;
}

void Console::Stop() {
  if (!thread_.joinable()) return;
  while (!done_) {
    http_->stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  thread_.join();
}

std::string Console::CookieName() const {
  // Cookies ignore ports: with one name per port, two consoles on one machine (or anything
  // else on 127.0.0.1) do not overwrite each other's session.
  return kCookiePrefix + std::to_string(port_);
}

bool Console::FromThisOrigin(const httplib::Request& req) const {
  std::string origin = req.get_header_value("Origin");
  if (!origin.empty()) {
    return origin == "http://127.0.0.1:" + std::to_string(port_) ||
           origin == "http://localhost:" + std::to_string(port_);
  }
  return req.get_header_value("Sec-Fetch-Site") == "same-origin";
}

std::string Console::CookieValue(const httplib::Request& req) const {
  std::string cookies = req.get_header_value("Cookie");
  std::string want = CookieName() + "=";
  size_t pos = 0;
  while (pos < cookies.size()) {
    size_t end = cookies.find(';', pos);
    if (end == std::string::npos) end = cookies.size();
    std::string part = cookies.substr(pos, end - pos);
    size_t start = part.find_first_not_of(' ');
    if (start != std::string::npos && part.compare(start, want.size(), want) == 0) {
      return part.substr(start + want.size());
    }
    pos = end + 1;
  }
  return "";
}

std::optional<Console::Session> Console::SessionOf(const httplib::Request& req) {
  std::string id = CookieValue(req);
  if (id.size() != 64) return std::nullopt;
  uint64_t now = clock_->MonotonicMillis();
  MutexLock lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  // A maintainer removed since signing in is signed out at once.
  if (now - it->second.last_ms > options_.idle_ms ||
      (!it->second.maintainer.empty() && !maintainers_->Active(it->second.maintainer))) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_ms = now;
  return it->second;
}

bool Console::CheckCsrf(const httplib::Request& req, httplib::Response& res) {
  // Another site's page may make the browser send our cookie (not with SameSite=Strict, but
  // defence in depth): refuse what says it comes from elsewhere.
  std::string origin = req.get_header_value("Origin");
  std::string self_ip = "http://127.0.0.1:" + std::to_string(port_);
  std::string self_name = "http://localhost:" + std::to_string(port_);
  if (!origin.empty() && origin != self_ip && origin != self_name) {
    ReplyError(res, Status::PermissionDenied("cross-origin request refused"));
    return false;
  }
  std::string site = req.get_header_value("Sec-Fetch-Site");
  if (!site.empty() && site != "same-origin" && site != "none") {
    ReplyError(res, Status::PermissionDenied("cross-site request refused"));
    return false;
  }
  std::optional<Session> s = SessionOf(req);
  if (!s || !SameSecret(req.get_header_value("X-CSRF-Token"), s->csrf)) {
    spdlog::warn("console: refused {} {}: missing or wrong CSRF token", req.method, req.path);
    ReplyError(res, Status::PermissionDenied(
                        "missing or wrong CSRF token (send the X-CSRF-Token header the console "
                        "received at sign-in)"));
    return false;
  }
  return true;
}

bool Console::OverLimit(const std::string& account, uint64_t now) {
  constexpr size_t kMaxAccountsTracked = 4096;
  if (failures_.size() >= kMaxAccountsTracked && !failures_.count(account)) {
    for (auto it = failures_.begin(); it != failures_.end();) {
      it = now - it->second.window_ms > 60'000 ? failures_.erase(it) : std::next(it);
    }
    // Still full (a spray of names within a minute): count them all as one account, so the
    // map stays bounded and the names sprayed are throttled together.
    if (failures_.size() >= kMaxAccountsTracked) return OverLimit("\x01sprayed", now);
  }
  Failures& f = failures_[account];
  if (now - f.window_ms > 60'000) f = Failures{now, 0};
  return ++f.count > 10;
}

std::optional<Console::Session> Console::SignIn(const httplib::Request& req,
                                                httplib::Response& res) {
  uint64_t now = clock_->MonotonicMillis();
  json body = ParseStoredJson(req.body, JsonLimits{64 << 10, 8});
  auto text = [&](const char* key) {
    return body.is_object() && body.contains(key) && body[key].is_string()
               ? body[key].get<std::string>()
               : std::string();
  };
  auto too_many = [&res](const std::string& what) {
    ReplyJson(res, 429,
              {{"error",
                {{"code", "ResourceExhausted"},
                 {"message", "too many failed sign-ins " + what + "; wait a minute"}}}});
    return std::nullopt;
  };
  std::string name = text("name");
  if (!name.empty()) {
    // A person's password: Argon2id, throttled per account. Over the limit, this account is
    // refused for the minute whatever is sent (a password can be guessed; a 256-bit token
    // cannot), and every other account signs in as usual.
    if (!Maintainers::CheckName(name).ok()) {
      ReplyError(res, Status::Unauthenticated("wrong name or password"));
      return std::nullopt;
    }
    {
      MutexLock lock(mu_);
      auto it = failures_.find(name);
      if (it != failures_.end() && now - it->second.window_ms <= 60'000 && it->second.count >= 10) {
        return too_many("for " + name);
      }
    }
    Result<bool> ok = maintainers_->CheckPassword(name, text("password"));
    if (!ok.ok()) {
      ReplyError(res, ok.status());
      return std::nullopt;
    }
    if (!*ok) {
      MutexLock lock(mu_);
      (void)OverLimit(name, now);
      spdlog::warn("console: failed sign-in for {}", name);
      ReplyError(res, Status::Unauthenticated("wrong name or password"));
      return std::nullopt;
    }
    return Session{"", now, name, MaintainerActor(options_.org, name)};
  }
  std::string token = text("token");
  if (std::optional<std::string> m = maintainers_->ByToken(token)) {
    return Session{"", now, *m, MaintainerActor(options_.org, *m)};
  }
  bool ok = false;
  for (const std::string& t : options_.tokens) ok = ok || SameSecret(token, t);
  if (ok) return Session{"", now, "", options_.org};
  // Wrong tokens are slowed down (a 256-bit token is not guessed; this keeps the log and the
  // CPU quiet), but only wrong ones: the right token always gets in.
  MutexLock lock(mu_);
  if (OverLimit("", now)) return too_many("with a token");
  spdlog::warn("console: failed sign-in");
  ReplyError(res, Status::Unauthenticated(
                      "wrong token (or sign in with your maintainer name and password)"));
  return std::nullopt;
}

void Console::Routes() {
  httplib::Server& s = *http_;
  s.set_payload_max_length(64 << 10);
  s.set_post_routing_handler(
      [](const httplib::Request&, httplib::Response& res) { SecurityHeaders(res); });
  HandleHttpErrors(s, "console", "no such page", SecurityHeaders);
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (Status text = CheckRequestText(req); !text.ok()) {
      ReplyError(res, text);
      SecurityHeaders(res);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!LocalHostMatches(req.get_header_value("Host"), port_)) {
      ReplyError(res, Status::PermissionDenied("unexpected Host header"));
      SecurityHeaders(res);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.path.rfind("/api/", 0) != 0 || req.path == "/api/session") {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (!SessionOf(req)) {
      ReplyError(res, Status::Unauthenticated("sign in first"));
      SecurityHeaders(res);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.method != "GET" && req.method != "HEAD" && !CheckCsrf(req, res)) {
      SecurityHeaders(res);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  for (size_t i = 0; i < kConsoleAssetCount; ++i) {
    const ConsoleAsset& a = kConsoleAssets[i];
    s.Get(a.path, [&a](const httplib::Request&, httplib::Response& res) {
      res.set_content(reinterpret_cast<const char*>(a.data), a.size, a.content_type);
    });
  }

  s.Get("/api/session", [this](const httplib::Request& req, httplib::Response& res) {
    std::optional<Session> session = SessionOf(req);
    // The CSRF token is never handed out on the cookie alone: anything on 127.0.0.1 that a
    // browser visits receives the cookie (cookies ignore ports). Only the console's own page
    // (a same-origin fetch says so) gets it back after a reload.
    bool give = session.has_value() && FromThisOrigin(req);
    ReplyJson(res, 200,
              {{"signed_in", session.has_value()},
               {"csrf", give ? json(session->csrf) : json(nullptr)},
               {"who", session ? json(session->actor) : json(nullptr)}});
  });
  s.Post("/api/session", [this](const httplib::Request& req, httplib::Response& res) {
    std::string origin = req.get_header_value("Origin");
    if (!origin.empty() && origin != "http://127.0.0.1:" + std::to_string(port_) &&
        origin != "http://localhost:" + std::to_string(port_)) {
      return ReplyError(res, Status::PermissionDenied("cross-origin sign-in refused"));
    }
    uint64_t now = clock_->MonotonicMillis();
    std::optional<Session> who = SignIn(req, res);
    if (!who) return;  // the reply says why
    std::string id = RandomHex(32), csrf = RandomHex(32);
    who->csrf = csrf;
    who->last_ms = now;
    {
      MutexLock lock(mu_);
      for (auto it = sessions_.begin(); it != sessions_.end();) {
        it = now - it->second.last_ms > options_.idle_ms ? sessions_.erase(it) : std::next(it);
      }
      if (sessions_.size() >= options_.max_sessions) {
        auto oldest = sessions_.begin();
        for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
          if (it->second.last_ms < oldest->second.last_ms) oldest = it;
        }
        sessions_.erase(oldest);
      }
      sessions_[id] = *who;
    }
    spdlog::info("console: {} signed in", who->actor);
    res.set_header("Set-Cookie", CookieName() + "=" + id +
                                     "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                                     std::to_string(options_.idle_ms / 1000));
    ReplyJson(res, 200, {{"signed_in", true}, {"csrf", csrf}, {"who", who->actor}});
  });
  s.Post("/api/logout", [this](const httplib::Request& req, httplib::Response& res) {
    {
      MutexLock lock(mu_);
      sessions_.erase(CookieValue(req));
    }
    res.set_header("Set-Cookie", CookieName() + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    ReplyJson(res, 200, {{"signed_in", false}});
  });

  AddReviewRoutes(s, *review_, "/api", "console", [this](const httplib::Request& req) {
    std::optional<Session> session = SessionOf(req);
    return session ? session->actor : options_.org;  // the pre-routing check found a session
  });

  s.Get("/api/records", [this](const httplib::Request& req, httplib::Response& res) {
    size_t limit = 100;
    if (req.has_param("limit")) {
      const std::string& l = req.get_param_value("limit");
      if (l.empty() || l.size() > 4 || l.find_first_not_of("0123456789") != std::string::npos ||
          std::stoul(l) == 0 || std::stoul(l) > 1000) {
        return ReplyError(res,
                          Status::InvalidArgument("limit: must be a whole number from 1 to 1000"));
      }
      limit = std::stoul(l);
    }
    std::string q = req.get_param_value("q");
    if (q.size() > 200) q.resize(200);
    while (!IsUtf8(q)) q.pop_back();
    Result<json> r = review_->Search(q, req.get_param_value("kind"), limit);
    if (!r.ok()) return ReplyError(res, r.status());
    ReplyJson(res, 200, *r);
  });
  s.Get(R"(/api/records/([0-9a-f-]{1,64}))",
        [this](const httplib::Request& req, httplib::Response& res) {
          Result<json> r = review_->Record(req.matches[1]);
          if (!r.ok()) return ReplyError(res, r.status());
          ReplyJson(res, 200, *r);
        });
  s.Get("/api/referrals", [this](const httplib::Request&, httplib::Response& res) {
    Result<std::map<std::string, uint64_t>> counts =
        loop_->Call([&] { return core_->ReferralCountsByStatus(); });
    if (!counts.ok()) {
      return ReplyJson(res, 200, {{"available", false}, {"message", counts.status().message()}});
    }
    uint64_t total = 0;
    for (const auto& [status, n] : *counts) total += n;
    ReplyJson(res, 200, {{"available", true}, {"by_status", *counts}, {"total", total}});
  });
  s.Get("/api/audit", [this](const httplib::Request& req, httplib::Response& res) {
    size_t limit = 100;
    if (req.has_param("limit")) {
      const std::string& l = req.get_param_value("limit");
      if (l.empty() || l.size() > 4 || l.find_first_not_of("0123456789") != std::string::npos ||
          std::stoul(l) == 0 || std::stoul(l) > 1000) {
        return ReplyError(res,
                          Status::InvalidArgument("limit: must be a whole number from 1 to 1000"));
      }
      limit = std::stoul(l);
    }
    // Read on the loop; the reply is written here.
    json reply = loop_->Call([&]() -> json {
      Result<std::vector<AuditEntry>> tail = core_->audit().Tail(limit);
      if (!tail.ok()) return {{"available", false}, {"message", tail.status().message()}};
      json entries = json::array();
      for (const AuditEntry& e : *tail) entries.push_back(AuditEntryJson(e));
      // On the loop too: the chain's head and its entries are read as one state.
      json chain = nullptr;
      if (Result<AuditCheck> check = AuditLog::Verify(core_->store()); check.ok()) {
        chain = {{"ok", check->ok}, {"entries", check->entries}, {"problem", check->problem}};
      }
      return {{"available", true}, {"entries", entries}, {"chain", chain}};
    });
    ReplyJson(res, 200, reply);
  });
}

}  // namespace sb
