// The review routes of the broker's local API (bearer token; see broker_server.h) and the
// request parsing they share with the console (console.h):
//   GET  /v1/review?kind=&org=&field=&min_age=SECONDS&q=&limit=   the queue, oldest first
//   GET  /v1/review/{id}                          one item, the record now, its history
//   POST /v1/review/{id}/approve                  {}
//   POST /v1/review/{id}/reject                   {"reason": "..."}
//   POST /v1/review/{id}/resolve                  {"value": V}   (text, number, boolean, null)
//   POST /v1/review/approve                       {"ids": [...]}  bulk approval
// Errors: {"error": {"code", "message"}} with 400 (bad input), 401, 404 (unknown or stale id),
// 409, 413; nothing changes on error.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "broker/review.h"
#include "broker/review_service.h"
#include "http/http_reply.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace sb {

// Who made a request: the maintainer's actor string (maintainers.h MaintainerActor), "" for
// the broker's organization.
using ActorOf = std::function<std::string(const httplib::Request&)>;

// `via` ("api", "console") goes to the log line; every decision is attributed to actor_of(req).
void AddReviewRoutes(httplib::Server& server, ReviewService& review, const std::string& prefix,
                     const std::string& via, const ActorOf& actor_of);

// The queue filter from query parameters (kind, org, field, min_age in seconds, q) and the
// page size (limit, 1..1000, default 200).
Result<ReviewFilter> FilterFromQuery(const httplib::Request& req, size_t* limit);
// A decision from a request body: {} for approve, {"reason"} for reject, {"value"} for resolve.
Result<Decision> DecisionFromBody(ReviewAction action, const std::string& body);
// {"ids": [...]}: at most 500 ids.
Result<std::vector<std::string>> IdsFromBody(const std::string& body);

}  // namespace sb
