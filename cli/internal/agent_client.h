// A client of a running agent's local API (agents/api_server.h), found through its data
// directory: DIR/agent.json says where the agent listens, DIR/api.token holds the bearer token.
// Every failure — no agent, a stale agent.json, a refused token, an HTTP error — becomes a
// Status whose message says what to do next. One request at a time; not thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace sb::cli {

// An HTTP reply, whatever its status.
struct HttpReply {
  int status = 0;
  std::string body;
};

class AgentClient {
 public:
  struct Options {
    int connect_timeout_s = 5;
    int read_timeout_s = 30;
    // The file the running process writes into its data directory: "agent.json", or
    // "broker.json" to talk to a broker's local API.
    std::string runtime_file = "agent.json";
    // When set and that environment variable is not empty, its value is the bearer token
    // instead of DIR/api.token (a named maintainer's own token at the broker).
    std::string token_env;
  };
  // Called while a request body is sent: bytes sent so far and in all.
  using UploadProgress = std::function<void(size_t sent, size_t total)>;

  // Reads DIR/agent.json and DIR/api.token; sends nothing yet. NotFound when no agent has
  // announced itself in DIR.
  static Result<AgentClient> Open(const std::string& data_dir, Options options);

  // Sends `method` (GET, PUT, POST, DELETE) to `path` and returns the agent's reply whatever
  // its HTTP status; fails only when no reply came (nothing listening, timeout, reset). The
  // body is JSON unless `content_type` says otherwise.
  Result<HttpReply> Send(const std::string& method, const std::string& path,
                         const std::string& body = "", const UploadProgress& progress = nullptr,
                         const std::string& content_type = "application/json");
  // Sends `body` (none when null) as JSON and decodes the JSON reply; an HTTP error becomes
  // the Status the agent named, with hints for the user.
  Result<nlohmann::json> Call(const std::string& method, const std::string& path,
                              const nlohmann::json& body = nullptr);
  // The Status that an error reply (status >= 300) stands for.
  Status ErrorOf(const HttpReply& reply) const;

  const std::string& data_dir() const { return data_dir_; }
  std::string address() const { return host_ + ":" + std::to_string(port_); }

 private:
  AgentClient() = default;
  Status NoReply(int error_code) const;

  std::string data_dir_;
  std::string host_;
  int port_ = 0;
  long pid_ = 0;
  std::string token_;
  Options options_;
};

// A client of the running broker's local API in `data` (DIR/broker.json); the token is
// $SWITCHBOARD_TOKEN when set (a maintainer's own, from `switchboard maintainer add`), else
// DIR/api.token (the coordinator's).
Result<AgentClient> BrokerClient(const std::string& data);

// Percent-encodes everything but unreserved characters (RFC 3986), for paths and queries.
std::string UrlEncode(std::string_view s);
// `path` with `?k=v&...` appended for the parameters whose value is not empty.
std::string WithQuery(std::string path,
                      const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace sb::cli
