// JSON replies of the local HTTP APIs (agent, broker, console): one shape for every error,
// {"error": {"code": ..., "message": ...}}, with the HTTP status that stands for the code, and
// the one exception and error handler the three servers share.
#pragma once

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <string>

#include "base/json.h"
#include "base/status.h"
#include "base/utf8.h"
#include "http/http_auth.h"

namespace sb {

inline void ReplyJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(DumpJson(body, 2) + "\n", "application/json");
}

// `extra` members are added to the error object (e.g. the list of import problems).
inline void ReplyError(httplib::Response& res, const Status& s,
                       const nlohmann::json& extra = nlohmann::json::object()) {
  nlohmann::json err = {{"code", CodeName(s.code())}, {"message", s.message()}};
  for (const auto& [k, v] : extra.items()) err[k] = v;
  ReplyJson(res, HttpStatusFor(s.code()), {{"error", err}});
}

// A request body as JSON, bounded (DESIGN.md §9: hostile input); InvalidArgument naming the
// body and what is wrong with it.
inline Result<nlohmann::json> ParseBody(const httplib::Request& req, JsonLimits limits = {}) {
  return ParseJson(req.body, "the request body", limits);
}

// The request's path and query parameters as text: UTF-8 (percent-decoded), without control
// characters, bounded. Checked before routing, so no handler ever sees (or echoes) bytes that
// are not text; InvalidArgument names the parameter.
inline Status CheckRequestText(const httplib::Request& req) {
  RETURN_IF_ERROR(CheckText(req.path, "the request path", TextKind::kName, 4096));
  for (const auto& [key, value] : req.params) {
    RETURN_IF_ERROR(CheckText(key, "a parameter name", TextKind::kName, 256));
    RETURN_IF_ERROR(CheckText(value, "parameter " + key, TextKind::kProse, 16 << 10));
  }
  return Status::Ok();
}

// Every handler's exception becomes a 500 with the error shape (logged with `who`, never with
// the request's contents), and every error status without a body gets one. `decorate` (if
// set) adds headers to each such reply. Nothing a request does can stop the process.
inline void HandleHttpErrors(httplib::Server& s, const std::string& who,
                             const std::string& not_found,
                             std::function<void(httplib::Response&)> decorate = {}) {
  s.set_exception_handler(
      [who, decorate](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        spdlog::error("{}: {} {} failed: {}", who, req.method, Printable(req.path, 200),
                      Printable(what, 300));
        ReplyError(res, Status::Internal("internal error; see the " + who + "'s log"));
        if (decorate) decorate(res);
      });
  s.set_error_handler([not_found, decorate](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413) {
      ReplyError(res, Status::ResourceExhausted("the request body is too large"));
    } else if (res.status == 404) {
      ReplyError(res, Status::NotFound(not_found));
    } else {
      ReplyError(res, Status(Code::kInvalidArgument, "HTTP error " + std::to_string(res.status)));
    }
    if (decorate) decorate(res);
  });
}

}  // namespace sb
