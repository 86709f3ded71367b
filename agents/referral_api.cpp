#include "agents/internal/referral_api.h"

#include <httplib.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include "agents/hsds_json.h"
#include "base/json.h"
#include "base/utf8.h"
#include "http/http_auth.h"
#include "http/http_reply.h"

namespace sb {

using nlohmann::json;

namespace {

std::string Text(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<ReferralRequest> ParseRequest(const json& body) {
  if (!body.is_object()) return Status::InvalidArgument("the request must be a JSON object");
  for (const char* key : {"to", "service", "urgency"}) {
    if (body.contains(key) && !body[key].is_string()) {
      return Status::InvalidArgument(std::string("\"") + key + "\" must be text");
    }
  }
  ReferralRequest r;
  r.to = Text(body, "to");
  if (r.to.empty())
    return Status::InvalidArgument("\"to\" (the recipient organization) is required");
  r.service = Text(body, "service");
  r.urgency = Text(body, "urgency");
  if (r.urgency.empty()) r.urgency = "routine";
  if (body.contains("expires_in_hours")) {
    // At most a year (the book's limit), checked here: a larger number of hours would not
    // convert to milliseconds (it became 0, which means "the default, 14 days").
    if (!body["expires_in_hours"].is_number() || body["expires_in_hours"].get<double>() <= 0 ||
        body["expires_in_hours"].get<double>() > 366 * 24) {
      return Status::InvalidArgument(
          "\"expires_in_hours\" must be a positive number, at most a year (8784)");
    }
    r.expires_ms = 1;  // filled in below, relative to now
  }
  const json* consent = body.contains("consent") ? &body["consent"] : nullptr;
  if (!consent || !consent->is_object()) {
    return Status::InvalidArgument(
        "a referral needs the client's consent: \"consent\": {\"scope\": ..., \"by\": ...}");
  }
  r.consent_scope = Text(*consent, "scope");
  r.consent_by = Text(*consent, "by");
  if (consent->contains("at_ms")) {
    if (!(*consent)["at_ms"].is_number_unsigned()) {
      return Status::InvalidArgument("\"consent.at_ms\" must be a time in milliseconds");
    }
    r.consent_at_ms = (*consent)["at_ms"].get<uint64_t>();
  }
  if (!body.contains("payload") || !body["payload"].is_object()) {
    return Status::InvalidArgument("\"payload\" must be an object (alias, contact, ...)");
  }
  r.payload_json = DumpJson(body["payload"]);
  return r;
}

}  // namespace

json ReferralJson(const ReferralInfo& r) {
  json steps = json::array();
  for (const ReferralStep& s : r.steps) {
    json j = {{"action", s.action}, {"actor", s.actor}, {"at", IsoTime(s.at_ms)}};
    if (!s.reason.empty()) j["reason"] = s.reason;
    steps.push_back(j);
  }
  return {{"id", r.id},
          {"box", r.box},
          {"status", r.status},
          {"sender", r.sender},
          {"recipient", r.recipient},
          {"service", r.service},
          {"urgency", r.urgency},
          {"created", IsoTime(r.created_ms)},
          {"expires", IsoTime(r.expires_ms)},
          {"consent",
           {{"scope", r.consent_scope}, {"by", r.consent_by}, {"at", IsoTime(r.consent_at_ms)}}},
          {"steps", steps},
          {"waiting", r.waiting},
          {"refused", r.refused},
          {"at_broker", r.at_broker},
          {"purged", r.purged}};
}

void AddReferralRoutes(httplib::Server& s, ReferralBook* book, Clock* clock) {
  s.Get("/v1/referrals", [book](const httplib::Request& req, httplib::Response& res) {
    auto list = book->List(req.get_param_value("box"), req.get_param_value("status"));
    if (!list.ok()) return ReplyError(res, list.status());
    json out = json::array();
    for (const ReferralInfo& r : *list) out.push_back(ReferralJson(r));
    ReplyJson(res, 200, {{"referrals", out}});
  });

  s.Post("/v1/referrals", [book, clock](const httplib::Request& req, httplib::Response& res) {
    // The payload inside is bounded again by ParseReferralPayload; the request around it is
    // small.
    Result<json> parsed = ParseJson(req.body, "the request body",
                                    JsonLimits{kMaxReferralPayloadBytes + (16 << 10), 16});
    if (!parsed.ok()) return ReplyError(res, parsed.status());
    const json& body = *parsed;
    Result<ReferralRequest> r = ParseRequest(body);
    if (!r.ok()) return ReplyError(res, r.status());
    if (r->expires_ms == 1) {
      double hours = body["expires_in_hours"].get<double>();
      r->expires_ms = static_cast<uint64_t>(clock->NowMillis() + hours * 3600e3);
    }
    Result<ReferralInfo> sent = book->Send(*r);
    if (!sent.ok()) {
      spdlog::info("api: referral to {} refused: {}", Printable(r->to), sent.status().message());
      return ReplyError(res, sent.status());
    }
    spdlog::info("api: referral {} to {} queued ({})", sent->id, sent->recipient, sent->urgency);
    ReplyJson(res, 201, ReferralJson(*sent));
  });

  s.Get(R"(/v1/referrals/([^/]+))", [book](const httplib::Request& req, httplib::Response& res) {
    std::string id = req.matches[1];
    Result<ReferralInfo> r = book->Get(id);
    if (!r.ok()) return ReplyError(res, r.status());
    json out = ReferralJson(*r);
    Result<std::string> payload = book->Payload(id);
    if (payload.ok()) {
      // Checked again when opened: a payload stored by an older build was never bounded.
      Result<json> opened = ParseReferralPayload(*payload);
      sodium_memzero(payload->data(), payload->size());
      if (opened.ok()) {
        out["payload"] = std::move(opened).value();
      } else {
        out["payload"] = nullptr;
        out["payload_error"] = opened.status().message();
      }
    } else {
      out["payload"] = nullptr;
      out["payload_error"] = payload.status().message();
    }
    ReplyJson(res, 200, out);
  });

  s.Post(R"(/v1/referrals/([^/]+)/(accept|decline|start|complete|cancel))",
         [book](const httplib::Request& req, httplib::Response& res) {
           std::string id = req.matches[1], action = req.matches[2];
           std::string reason;
           if (!req.body.empty()) {
             json body = ParseStoredJson(req.body, JsonLimits{16 << 10, 4});
             if (!body.is_object() || (body.contains("reason") && !body["reason"].is_string())) {
               return ReplyError(res,
                                 Status::InvalidArgument("the body must be {\"reason\": text}"));
             }
             reason = Text(body, "reason");
           }
           Result<ReferralInfo> r = book->Act(id, action, reason);
           if (!r.ok()) return ReplyError(res, r.status());
           spdlog::info("api: referral {}: {} queued", id, action);
           ReplyJson(res, 200, ReferralJson(*r));
         });

  s.Post(R"(/v1/referrals/([^/]+)/purge)",
         [book](const httplib::Request& req, httplib::Response& res) {
           std::string id = req.matches[1];
           Status st = book->Purge(id);
           if (!st.ok()) return ReplyError(res, st);
           spdlog::info("api: referral {} purged", id);
           ReplyJson(res, 200, {{"id", id}, {"purged", true}});
         });

  // Referral pre-keys (forward secrecy): the ids whose secrets this agent holds; rotate now.
  s.Get("/v1/prekeys", [book](const httplib::Request&, httplib::Response& res) {
    ReplyJson(res, 200,
              {{"held", book->HeldPreKeys()},
               {"current", book->CurrentPreKeyId()},
               {"roster", book->RosterPreKeys()}});
  });
  s.Post("/v1/prekeys/rotate", [book](const httplib::Request&, httplib::Response& res) {
    Result<std::pair<uint64_t, size_t>> r = book->RotatePreKey();
    if (!r.ok()) return ReplyError(res, r.status());
    spdlog::info("api: referral pre-key rotated to {}; {} retired secret(s) destroyed", r->first,
                 r->second);
    ReplyJson(res, 200,
              {{"current", r->first}, {"destroyed", r->second}, {"held", book->HeldPreKeys()}});
  });

  s.Get("/v1/audit", [book](const httplib::Request& req, httplib::Response& res) {
    size_t limit = 100;
    if (req.has_param("limit")) {
      try {
        limit = std::stoul(req.get_param_value("limit"));
      } catch (const std::exception&) {
        return ReplyError(res, Status::InvalidArgument("limit must be a number"));
      }
    }
    auto tail = book->audit().Tail(std::min<size_t>(limit, 10000));
    if (!tail.ok()) return ReplyError(res, tail.status());
    json out = json::array();
    for (const AuditEntry& e : *tail) out.push_back(AuditEntryJson(e));
    ReplyJson(res, 200, {{"entries", out}});
  });
}

}  // namespace sb
