// JSON replies of the local HTTP APIs (agent, broker, console): one shape for every error,
// {"error": {"code": ..., "message": ...}}, with the HTTP status that stands for the code.
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "schemas/status.h"
#include "transport/http_auth.h"

namespace sb {

inline void ReplyJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(2) + "\n", "application/json");
}

// `extra` members are added to the error object (e.g. the list of import problems).
inline void ReplyError(httplib::Response& res, const Status& s,
                       const nlohmann::json& extra = nlohmann::json::object()) {
  nlohmann::json err = {{"code", CodeName(s.code())}, {"message", s.message()}};
  for (const auto& [k, v] : extra.items()) err[k] = v;
  ReplyJson(res, HttpStatusFor(s.code()), {{"error", err}});
}

}  // namespace sb
