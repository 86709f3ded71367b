#include "cli/internal/agent_client.h"

#include <cstdlib>

#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "base/json.h"
#include "store/data_dir.h"

namespace sb::cli {

using nlohmann::json;

namespace {

std::string StartHint(const std::string& dir) {
  return "start it with: switchboard agent --data " + dir;
}

Code CodeFromReply(int http_status, const json& error) {
  if (error.is_object() && error.contains("code") && error["code"].is_string()) {
    std::string name = error["code"].get<std::string>();
    for (int c = 1; c <= static_cast<int>(Code::kInternal); ++c) {
      if (name == CodeName(static_cast<Code>(c))) return static_cast<Code>(c);
    }
  }
  switch (http_status) {
    case 400:
      return Code::kInvalidArgument;
    case 401:
      return Code::kUnauthenticated;
    case 403:
      return Code::kPermissionDenied;
    case 404:
      return Code::kNotFound;
    case 409:
      return Code::kFailedPrecondition;
    case 413:
      return Code::kResourceExhausted;
    case 503:
      return Code::kUnavailable;
    case 507:
      return Code::kNoSpace;
    default:
      return Code::kInternal;
  }
}

}  // namespace

Result<AgentClient> AgentClient::Open(const std::string& data_dir, Options options) {
  struct stat st;
  if (::stat(data_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::NotFound("no data directory at " + data_dir + " (an agent creates it; " +
                            StartHint(data_dir) + ")");
  }
  AgentClient c;
  c.data_dir_ = data_dir;
  c.options_ = options;
  const std::string runtime = data_dir + "/" + options.runtime_file;
  Result<std::string> text = ReadFile(runtime);
  if (!text.ok()) {
    return Status::NotFound("no agent is running for " + data_dir + " (" + StartHint(data_dir) +
                            ")");
  }
  json j = ParseStoredJson(*text);
  std::string api =
      j.is_object() && j.contains("api") && j["api"].is_string() ? j["api"].get<std::string>() : "";
  size_t colon = api.rfind(':');
  std::string port = colon == std::string::npos ? "" : api.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos) {
    return Status::Corruption(runtime +
                              " does not say where the agent listens (expected {\"api\": "
                              "\"127.0.0.1:PORT\"}); restart the agent");
  }
  c.host_ = api.substr(0, colon);
  c.port_ = std::stoi(port);
  if (j.contains("pid") && j["pid"].is_number_integer()) c.pid_ = j["pid"].get<long>();
  const char* env = options.token_env.empty() ? nullptr : std::getenv(options.token_env.c_str());
  if (env != nullptr && *env != '\0') {
    c.token_ = env;
  } else {
    Result<std::string> token = ReadSecretFile(data_dir + "/api.token");
    if (!token.ok()) return token.status();
    c.token_ = *token;
  }
  while (!c.token_.empty() && (c.token_.back() == '\n' || c.token_.back() == '\r')) {
    c.token_.pop_back();
  }
  return c;
}

Status AgentClient::NoReply(int error_code) const {
  auto err = static_cast<httplib::Error>(error_code);
  std::string where = "the agent at " + address();
  switch (err) {
    case httplib::Error::Connection:
    case httplib::Error::ConnectionTimeout: {
      bool alive = pid_ > 0 && (::kill(static_cast<pid_t>(pid_), 0) == 0 || errno == EPERM);
      if (!alive) {
        return Status::Unavailable("no agent is running for " + data_dir_ + " (" +
                                   StartHint(data_dir_) + ")");
      }
      return Status::Unavailable(where + " (pid " + std::to_string(pid_) +
                                 ") does not accept connections; is it still starting, or "
                                 "stuck? See its log");
    }
    case httplib::Error::Read:
      return Status::Unavailable(where + " gave no answer within " +
                                 std::to_string(options_.read_timeout_s) +
                                 " s or closed the connection; see its log");
    case httplib::Error::Write:
      return Status::Unavailable("could not send the request to " + where +
                                 " (it closed the connection; see its log)");
    default:
      return Status::Unavailable("request to " + where + " failed: " + httplib::to_string(err));
  }
}

Result<HttpReply> AgentClient::Send(const std::string& method, const std::string& path,
                                    const std::string& body, const UploadProgress& progress,
                                    const std::string& content_type) {
  httplib::Client http(host_, port_);
  http.set_connection_timeout(options_.connect_timeout_s, 0);
  http.set_read_timeout(options_.read_timeout_s, 0);
  http.set_write_timeout(options_.read_timeout_s, 0);
  httplib::Headers headers = {{"Authorization", "Bearer " + token_}};
  const char* type = content_type.c_str();
  if (method != "GET" && method != "PUT" && method != "DELETE" && method != "POST") {
    return Status::Internal("unsupported HTTP method " + method);
  }
  httplib::Result res = [&] {
    if (method == "GET") return http.Get(path, headers);
    if (method == "PUT") return http.Put(path, headers, body, type);
    if (method == "DELETE") return http.Delete(path, headers);
    if (!progress) return http.Post(path, headers, body, type);
    // Sent in pieces so that the caller can show how far the upload got.
    return http.Post(
        path, headers, body.size(),
        [&](size_t offset, size_t length, httplib::DataSink& sink) {
          size_t n = std::min<size_t>(length, 256 << 10);
          if (!sink.write(body.data() + offset, n)) return false;
          progress(offset + n, body.size());
          return true;
        },
        type);
  }();
  if (!res) return NoReply(static_cast<int>(res.error()));
  return HttpReply{res->status, res->body};
}

Status AgentClient::ErrorOf(const HttpReply& reply) const {
  json body = ParseStoredJson(reply.body, kReplyLimits);
  json error = body.is_object() && body.contains("error") ? body["error"] : json();
  std::string message =
      error.is_object() && error.contains("message") && error["message"].is_string()
          ? error["message"].get<std::string>()
          : "HTTP " + std::to_string(reply.status) + " from the agent";
  Code code = CodeFromReply(reply.status, error);
  if (code == Code::kUnauthenticated) {
    message = "the agent at " + address() + " refused the token in " + data_dir_ +
              "/api.token (is that port served by another data directory's agent?)";
  } else if (code == Code::kUnavailable) {
    message += " (try again once the agent has restarted)";
  }
  return Status(code, message);
}

Result<json> AgentClient::Call(const std::string& method, const std::string& path,
                               const json& body) {
  ASSIGN_OR_RETURN(HttpReply reply, Send(method, path, body.is_null() ? "" : DumpJson(body)));
  if (reply.status < 200 || reply.status >= 300) return ErrorOf(reply);
  json out = ParseStoredJson(reply.body, kReplyLimits);
  if (out.is_discarded()) {
    return Status::Corruption("the agent at " + address() + " sent a reply that is not JSON");
  }
  return out;
}

Result<AgentClient> BrokerClient(const std::string& data) {
  AgentClient::Options o;
  o.runtime_file = "broker.json";
  o.token_env = "SWITCHBOARD_TOKEN";
  Result<AgentClient> c = AgentClient::Open(data, o);
  if (!c.ok()) {
    return Status(c.status().code(), "no broker is running for " + data +
                                         " (start it with: switchboard broker --data " + data +
                                         ")");
  }
  return c;
}

std::string UrlEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string WithQuery(std::string path,
                      const std::vector<std::pair<std::string, std::string>>& params) {
  char sep = '?';
  for (const auto& [k, v] : params) {
    if (v.empty()) continue;
    path += sep + UrlEncode(k) + "=" + UrlEncode(v);
    sep = '&';
  }
  return path;
}

}  // namespace sb::cli
