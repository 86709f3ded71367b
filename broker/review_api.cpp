#include "broker/internal/review_api.h"

#include <httplib.h>

#include <algorithm>

#include "base/json.h"
#include "base/utf8.h"
#include "http/http_auth.h"

namespace sb {

using nlohmann::json;

namespace {

Result<uint64_t> Number(const std::string& name, const std::string& text, uint64_t lo,
                        uint64_t hi) {
  if (text.empty() || text.size() > 12 ||
      !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return Status::InvalidArgument(name + ": must be a whole number");
  }
  uint64_t v = std::stoull(text);
  if (v < lo || v > hi) {
    return Status::InvalidArgument(name + ": must be from " + std::to_string(lo) + " to " +
                                   std::to_string(hi));
  }
  return v;
}

Result<json> ParseObject(const std::string& body) {
  if (body.empty()) return json::object();
  // Bodies here are tiny.
  ASSIGN_OR_RETURN(json j, ParseJson(body, "the request body", JsonLimits{64 << 10, 8}));
  if (!j.is_object()) return Status::InvalidArgument("the request body must be a JSON object");
  return j;
}

// A filter's text parameter, cut at `max` bytes without splitting a character.
std::string Param(const httplib::Request& req, const char* key, size_t max) {
  std::string v = req.get_param_value(key);
  if (v.size() > max) v.resize(max);
  while (!IsUtf8(v)) v.pop_back();
  return v;
}

}  // namespace

Result<ReviewFilter> FilterFromQuery(const httplib::Request& req, size_t* limit) {
  ReviewFilter f;
  if (req.has_param("kind") && !req.get_param_value("kind").empty()) {
    ASSIGN_OR_RETURN(ReviewKind k, ParseReviewKind(req.get_param_value("kind")));
    f.kind = k;
  }
  f.org = Param(req, "org", 200);
  f.field = Param(req, "field", 100);
  f.q = Param(req, "q", 200);
  if (req.has_param("min_age") && !req.get_param_value("min_age").empty()) {
    ASSIGN_OR_RETURN(uint64_t s,
                     Number("min_age", req.get_param_value("min_age"), 0, 100ULL * 365 * 86400));
    f.min_age_ms = s * 1000;
  }
  *limit = 200;
  if (req.has_param("limit")) {
    ASSIGN_OR_RETURN(uint64_t l, Number("limit", req.get_param_value("limit"), 1, 1000));
    *limit = l;
  }
  return f;
}

Result<Decision> DecisionFromBody(ReviewAction action, const std::string& body) {
  ASSIGN_OR_RETURN(json j, ParseObject(body));
  Decision d;
  d.action = action;
  for (const auto& [k, v] : j.items()) {
    bool known = (action == ReviewAction::kReject && k == "reason") ||
                 (action == ReviewAction::kResolve && k == "value");
    if (!known) {
      return Status::InvalidArgument("unknown key '" + Printable(k, 40) + "' in the body of " +
                                     ReviewActionName(action));
    }
  }
  if (action == ReviewAction::kReject) {
    if (!j.contains("reason") || !j["reason"].is_string()) {
      return Status::InvalidArgument("reason: required, as text (it is shown to the partner)");
    }
    d.reason = j["reason"].get<std::string>();
    if (d.reason.size() > 1000) return Status::InvalidArgument("reason: longer than 1000 bytes");
  }
  if (action == ReviewAction::kResolve) {
    if (!j.contains("value")) return Status::InvalidArgument("value: required");
    const json& v = j["value"];
    if (!(v.is_string() || v.is_number_integer() || v.is_boolean() || v.is_null())) {
      return Status::InvalidArgument("value: must be text, a whole number, a boolean or null");
    }
    if (v.is_string() && v.get_ref<const std::string&>().size() > 4000) {
      return Status::InvalidArgument("value: longer than 4000 bytes");
    }
    d.value = v;
  }
  return d;
}

Result<std::vector<std::string>> IdsFromBody(const std::string& body) {
  ASSIGN_OR_RETURN(json j, ParseObject(body));
  if (!j.contains("ids") || !j["ids"].is_array() || j.size() != 1) {
    return Status::InvalidArgument("body must be {\"ids\": [ID, ...]}");
  }
  if (j["ids"].size() > 500) return Status::InvalidArgument("ids: at most 500 at once");
  std::vector<std::string> ids;
  for (const json& id : j["ids"]) {
    if (!id.is_string() || id.get_ref<const std::string&>().size() > 64) {
      return Status::InvalidArgument("ids: each must be an item id such as m-0123456789ab");
    }
    ids.push_back(id.get<std::string>());
  }
  return ids;
}

void AddReviewRoutes(httplib::Server& s, ReviewService& review, const std::string& prefix,
                     const std::string& via, const ActorOf& actor_of) {
  s.Get(prefix + "/review", [&review](const httplib::Request& req, httplib::Response& res) {
    size_t limit = 0;
    Result<ReviewFilter> f = FilterFromQuery(req, &limit);
    if (!f.ok()) return ReplyError(res, f.status());
    Result<json> list = review.List(*f, limit);
    if (!list.ok()) return ReplyError(res, list.status());
    ReplyJson(res, 200, *list);
  });
  s.Get(prefix + R"(/review/([A-Za-z0-9-]{1,64}))",
        [&review](const httplib::Request& req, httplib::Response& res) {
          Result<json> item = review.Show(req.matches[1]);
          if (!item.ok()) return ReplyError(res, item.status());
          ReplyJson(res, 200, *item);
        });
  s.Post(prefix + "/review/approve",
         [&review, via, actor_of](const httplib::Request& req, httplib::Response& res) {
           Result<std::vector<std::string>> ids = IdsFromBody(req.body);
           if (!ids.ok()) return ReplyError(res, ids.status());
           ReplyJson(res, 200, review.BulkApprove(*ids, via, actor_of(req)));
         });
  for (ReviewAction a : {ReviewAction::kApprove, ReviewAction::kReject, ReviewAction::kResolve}) {
    s.Post(prefix + R"(/review/([A-Za-z0-9-]{1,64})/)" + ReviewActionName(a),
           [&review, a, via, actor_of](const httplib::Request& req, httplib::Response& res) {
             Result<Decision> d = DecisionFromBody(a, req.body);
             if (!d.ok()) return ReplyError(res, d.status());
             Result<json> done = review.Decide(req.matches[1], *d, via, actor_of(req));
             if (!done.ok()) return ReplyError(res, done.status());
             ReplyJson(res, 200, *done);
           });
  }
}

}  // namespace sb
