#include "agents/hsds_api.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <set>
#include <thread>
#include <vector>

#include "base/json.h"
#include "http/http_limits.h"
#include "http/http_reply.h"

namespace sb {

using json = nlohmann::json;

namespace {

constexpr char kOpenApiUrl[] =
    "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/openapi.json";
constexpr char kProfile[] = "https://docs.openreferral.org/en/v3.0/";

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS[.fff]] with Z or ±HH:MM (none: UTC), as epoch ms.
std::optional<uint64_t> ParseIsoTime(std::string_view s) {
  auto digits = [&s](size_t at, size_t n, int* out) {
    if (at + n > s.size()) return false;
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
      v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
  };
  int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
  if (!digits(0, 4, &y) || s.size() < 10 || s[4] != '-' || !digits(5, 2, &mo) || s[7] != '-' ||
      !digits(8, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > 31) {
    return std::nullopt;
  }
  size_t at = 10;
  int64_t offset_min = 0;
  if (at < s.size()) {
    if ((s[at] != 'T' && s[at] != ' ') || !digits(at + 1, 2, &h) || at + 3 >= s.size() ||
        s[at + 3] != ':' || !digits(at + 4, 2, &mi) || h > 23 || mi > 59) {
      return std::nullopt;
    }
    at += 6;
    if (at < s.size() && s[at] == ':') {
      if (!digits(at + 1, 2, &sec) || sec > 60) return std::nullopt;
      at += 3;
      if (at < s.size() && s[at] == '.') {
        size_t n = 0;
        int frac = 0;
        while (at + 1 + n < s.size() && std::isdigit(static_cast<unsigned char>(s[at + 1 + n]))) {
          if (n < 3) frac = frac * 10 + (s[at + 1 + n] - '0');
          ++n;
        }
        if (n == 0) return std::nullopt;
        for (size_t k = n; k < 3; ++k) frac *= 10;
        ms = frac;
        at += 1 + n;
      }
    }
    if (at < s.size()) {
      if (s[at] == 'Z' && at + 1 == s.size()) {
        at += 1;
      } else if ((s[at] == '+' || s[at] == '-') && at + 6 == s.size() && s[at + 3] == ':') {
        int oh, om;
        if (!digits(at + 1, 2, &oh) || !digits(at + 4, 2, &om)) return std::nullopt;
        offset_min = (s[at] == '-' ? -1 : 1) * (oh * 60 + om);
        at += 6;
      } else {
        return std::nullopt;
      }
    }
  }
  int64_t t = ((DaysFromCivil(y, mo, d) * 24 + h) * 60 + mi - offset_min) * 60 + sec;
  if (t < 0) return uint64_t{0};
  return static_cast<uint64_t>(t) * 1000 + ms;
}

double Radians(double deg) {
  return deg * 3.14159265358979323846 / 180.0;
}

double DistanceKm(double lat1, double lon1, double lat2, double lon2) {
  double dlat = Radians(lat2 - lat1), dlon = Radians(lon2 - lon1);
  double a = std::sin(dlat / 2) * std::sin(dlat / 2) + std::cos(Radians(lat1)) *
                                                           std::cos(Radians(lat2)) *
                                                           std::sin(dlon / 2) * std::sin(dlon / 2);
  return 6371.0088 * 2 * std::atan2(std::sqrt(a), std::sqrt(1 - a));
}

std::string NormalPostcode(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (!std::isspace(static_cast<unsigned char>(c)) && c != '-') {
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

std::string Str(const json& fields, const char* name) {
  auto it = fields.find(name);
  return it != fields.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The query parameters of one request, checked.
struct Query {
  std::string search;  // lower case
  size_t page = 1, per_page = kHsdsDefaultPerPage;
  bool ndjson = false, minimal = false, full = false, top_only = false;
  std::string taxonomy_term_id, taxonomy_id, organization_id, parent_id, postcode;
  std::optional<uint64_t> modified_after;
  bool proximity = false;
  double lat = 0, lon = 0, km = 0;
};

Status BadParam(const std::string& name, const std::string& rule) {
  return Status::InvalidArgument("query parameter " + name + ": " + rule);
}

Result<bool> ParseBool(const std::string& name, const std::string& v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return BadParam(name, "must be true or false, got '" + v.substr(0, 40) + "'");
}

Result<size_t> ParseCount(const std::string& name, const std::string& v, size_t lo, size_t hi) {
  if (v.empty() || v.size() > 9 || !std::all_of(v.begin(), v.end(), ::isdigit) ||
      std::stoul(v) < lo || std::stoul(v) > hi) {
    return BadParam(name, "must be a whole number from " + std::to_string(lo) + " to " +
                              std::to_string(hi) + ", got '" + v.substr(0, 40) + "'");
  }
  return static_cast<size_t>(std::stoul(v));
}

Result<double> ParseNumber(const std::string& name, std::string_view v, double lo, double hi) {
  std::string text(v);
  char* end = nullptr;
  double d = text.empty() ? NAN : std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(d) || d < lo || d > hi) {
    return BadParam(name,
                    "must be \"LAT,LON,KM\" (latitude -90..90, longitude -180..180, "
                    "kilometres above 0 up to 20040), got '" +
                        text.substr(0, 40) + "'");
  }
  return d;
}

Result<Query> ParseQuery(const std::multimap<std::string, std::string>& params,
                         const std::set<std::string>& allowed, const std::string& route) {
  Query q;
  for (const auto& [name, value] : params) {
    if (!allowed.count(name)) {
      std::string known;
      for (const std::string& a : allowed) known += (known.empty() ? "" : ", ") + a;
      return BadParam(name, "not known for GET " + route +
                                (known.empty() ? " (it takes none)" : " (known: " + known + ")"));
    }
    if (params.count(name) > 1) return BadParam(name, "given more than once");
    if (name == "search") {
      q.search = Lower(value);
    } else if (name == "page") {
      ASSIGN_OR_RETURN(q.page, ParseCount(name, value, 1, 100'000'000));
    } else if (name == "per_page") {
      ASSIGN_OR_RETURN(q.per_page, ParseCount(name, value, 1, kHsdsMaxPerPage));
    } else if (name == "format") {
      if (value != "json" && value != "ndjson") {
        return BadParam(name, "must be json or ndjson, got '" + value.substr(0, 40) + "'");
      }
      q.ndjson = value == "ndjson";
    } else if (name == "minimal") {
      ASSIGN_OR_RETURN(q.minimal, ParseBool(name, value));
    } else if (name == "full" || name == "full_service") {
      ASSIGN_OR_RETURN(bool full, ParseBool(name, value));
      q.full = q.full || full;
    } else if (name == "top_only") {
      ASSIGN_OR_RETURN(q.top_only, ParseBool(name, value));
    } else if (name == "modified_after") {
      q.modified_after = ParseIsoTime(value);
      if (!q.modified_after) {
        return BadParam(name,
                        "must be an ISO 8601 date or date-time such as 2024-05-01 or "
                        "2024-05-01T12:00:00Z, got '" +
                            value.substr(0, 40) + "'");
      }
    } else if (name == "proximity") {
      size_t c1 = value.find(','), c2 = c1 == std::string::npos ? c1 : value.find(',', c1 + 1);
      if (c2 == std::string::npos) {
        return BadParam(name, "must be \"LAT,LON,KM\", got '" + value.substr(0, 40) + "'");
      }
      std::string_view v(value);
      ASSIGN_OR_RETURN(q.lat, ParseNumber(name, v.substr(0, c1), -90, 90));
      ASSIGN_OR_RETURN(q.lon, ParseNumber(name, v.substr(c1 + 1, c2 - c1 - 1), -180, 180));
      ASSIGN_OR_RETURN(q.km, ParseNumber(name, v.substr(c2 + 1), 1e-9, 20040));
      q.proximity = true;
    } else {
      if (value.empty() || value.size() > 200) return BadParam(name, "must be 1 to 200 characters");
      if (name == "taxonomy_term_id") q.taxonomy_term_id = Lower(value);
      if (name == "taxonomy_id") q.taxonomy_id = Lower(value);
      if (name == "organization_id") q.organization_id = Lower(value);
      if (name == "parent_id") q.parent_id = Lower(value);
      if (name == "postcode") q.postcode = NormalPostcode(value);
    }
  }
  return q;
}

class Answerer {
 public:
  explicit Answerer(const HsdsCompiler& c) : c_(c) {}

  bool Searched(const HsdsObject& o, const std::string& needle,
                std::initializer_list<const char*> fields) const {
    if (needle.empty()) return true;
    for (const char* f : fields) {
      if (Lower(Str(o.fields, f)).find(needle) != std::string::npos) return true;
    }
    return false;
  }

  bool Classified(const HsdsObject& o, const Query& q) const {
    if (q.taxonomy_term_id.empty() && q.taxonomy_id.empty()) return true;
    for (const HsdsObject* a : c_.Linked("attribute", "link_id", o.id)) {
      std::string term_id = Str(a->fields, "taxonomy_term_id");
      if (!q.taxonomy_term_id.empty() && term_id != q.taxonomy_term_id) continue;
      if (!q.taxonomy_id.empty()) {
        const HsdsObject* term = c_.Find("taxonomy_term", term_id);
        if (term == nullptr || Str(term->fields, "taxonomy_id") != q.taxonomy_id) continue;
      }
      return true;
    }
    return false;
  }

  bool Modified(const HsdsObject& o, const Query& q) const {
    return !q.modified_after || c_.ModifiedMs(o.id) >= *q.modified_after;
  }

  bool LocationMatches(const std::string& location_id, const Query& q) const {
    if (q.postcode.empty() && !q.proximity) return true;
    const HsdsObject* loc = c_.Find("location", location_id);
    if (loc == nullptr) return false;
    if (!q.postcode.empty()) {
      bool found = false;
      for (const HsdsObject* a : c_.Linked("address", "location_id", location_id)) {
        if (NormalPostcode(Str(a->fields, "postal_code")) == q.postcode) found = true;
      }
      if (!found) return false;
    }
    if (q.proximity) {
      const json& f = loc->fields;
      if (!f.contains("latitude") || !f.contains("longitude") || !f["latitude"].is_number() ||
          !f["longitude"].is_number()) {
        return false;
      }
      if (DistanceKm(q.lat, q.lon, f["latitude"].get<double>(), f["longitude"].get<double>()) >
          q.km) {
        return false;
      }
    }
    return true;
  }

  bool ServiceMatches(const HsdsObject& s, const Query& q) const {
    if (!q.organization_id.empty() && Str(s.fields, "organization_id") != q.organization_id) {
      return false;
    }
    if (!Classified(s, q)) return false;
    if (!q.postcode.empty() || q.proximity) {
      bool any = false;
      for (const HsdsObject* sal : c_.Linked("service_at_location", "service_id", s.id)) {
        if (LocationMatches(Str(sal->fields, "location_id"), q)) any = true;
      }
      if (!any) return false;
    }
    return true;
  }

  json Minimal(const HsdsObject& o) const {
    uint64_t ms = c_.ModifiedMs(o.id);
    return {{"id", o.id}, {"modified_date", ms ? json(IsoTime(ms)) : json(nullptr)}};
  }

  HsdsAnswer Page(const std::vector<const HsdsObject*>& found, const Query& q,
                  const std::function<json(const HsdsObject&)>& item) const {
    HsdsAnswer a;
    json contents = json::array();
    if (q.ndjson) {
      for (const HsdsObject* o : found) contents.push_back(q.minimal ? Minimal(*o) : item(*o));
      a.body = std::move(contents);
      a.ndjson = true;
      return a;
    }
    size_t total = found.size();
    size_t pages = (total + q.per_page - 1) / q.per_page;
    size_t from = std::min(total, (q.page - 1) * q.per_page);
    size_t to = std::min(total, from + q.per_page);
    for (size_t i = from; i < to; ++i) {
      contents.push_back(q.minimal ? Minimal(*found[i]) : item(*found[i]));
    }
    a.body = {{"total_items", total},      {"total_pages", pages},
              {"page_number", q.page},     {"size", contents.size()},
              {"first_page", q.page == 1}, {"last_page", q.page >= pages},
              {"empty", contents.empty()}, {"contents", std::move(contents)}};
    return a;
  }

  Result<HsdsAnswer> One(const char* kind, const std::string& id, bool compiled) const {
    json o = compiled ? c_.Compile(kind, id) : c_.CompileListItem(kind, id);
    if (o.is_null()) return Status::NotFound(std::string("no ") + kind + " " + id);
    return HsdsAnswer{std::move(o), false};
  }

  Result<HsdsAnswer> Answer(std::string_view route,
                            const std::multimap<std::string, std::string>& params) const {
    std::string r(route.empty() ? "/" : route);
    if (r.size() > 1 && r.back() == '/') r.pop_back();
    size_t slash = r.find('/', 1);
    std::string collection = r.substr(0, slash);
    std::string id = slash == std::string::npos ? "" : r.substr(slash + 1);
    if (id.find('/') != std::string::npos) return Status::NotFound("no such HSDS endpoint " + r);
    id = Lower(id);
    const std::set<std::string> paging = {"search", "page", "per_page", "format"};
    auto with = [&paging](std::initializer_list<const char*> more) {
      std::set<std::string> s = paging;
      for (const char* m : more) s.insert(m);
      return s;
    };
    if (collection == "/") {
      ASSIGN_OR_RETURN(Query q, ParseQuery(params, {}, r));
      (void)q;
      return HsdsAnswer{{{"version", "3.0"}, {"profile", kProfile}, {"openapi_url", kOpenApiUrl}},
                        false};
    }
    if (collection == "/services") {
      if (!id.empty()) {
        ASSIGN_OR_RETURN(Query q, ParseQuery(params, {}, "/services/{id}"));
        (void)q;
        return One("service", id, true);
      }
      ASSIGN_OR_RETURN(
          Query q, ParseQuery(params,
                              with({"taxonomy_term_id", "taxonomy_id", "organization_id",
                                    "modified_after", "minimal", "full", "postcode", "proximity"}),
                              r));
      std::vector<const HsdsObject*> found;
      for (const HsdsObject* s : c_.OfKind("service")) {
        if (Searched(*s, q.search, {"name", "alternate_name", "description"}) &&
            ServiceMatches(*s, q) && Modified(*s, q)) {
          found.push_back(s);
        }
      }
      return Page(found, q, [this, &q](const HsdsObject& o) {
        return q.full ? c_.Compile("service", o.id) : c_.CompileListItem("service", o.id);
      });
    }
    if (collection == "/organizations") {
      if (!id.empty()) {
        ASSIGN_OR_RETURN(Query q, ParseQuery(params, {"full_service"}, "/organizations/{id}"));
        (void)q;
        return One("organization", id, true);
      }
      ASSIGN_OR_RETURN(Query q, ParseQuery(params,
                                           with({"full", "full_service", "modified_after",
                                                 "taxonomy_term_id", "taxonomy_id"}),
                                           r));
      std::vector<const HsdsObject*> found;
      for (const HsdsObject* o : c_.OfKind("organization")) {
        if (Searched(*o, q.search, {"name", "alternate_name", "description"}) &&
            Classified(*o, q) && Modified(*o, q)) {
          found.push_back(o);
        }
      }
      return Page(found, q, [this, &q](const HsdsObject& o) {
        return q.full ? c_.Compile("organization", o.id) : c_.CompileListItem("organization", o.id);
      });
    }
    if (collection == "/service_at_locations") {
      if (!id.empty()) {
        ASSIGN_OR_RETURN(Query q, ParseQuery(params, {}, "/service_at_locations/{id}"));
        (void)q;
        return One("service_at_location", id, true);
      }
      ASSIGN_OR_RETURN(
          Query q, ParseQuery(params,
                              with({"taxonomy_term_id", "taxonomy_id", "organization_id",
                                    "modified_after", "minimal", "full", "postcode", "proximity"}),
                              r));
      // The service's own conditions (the location's are checked on the SAL's location).
      Query service_query;
      service_query.taxonomy_term_id = q.taxonomy_term_id;
      service_query.taxonomy_id = q.taxonomy_id;
      service_query.organization_id = q.organization_id;
      std::vector<const HsdsObject*> found;
      for (const HsdsObject* sal : c_.OfKind("service_at_location")) {
        const HsdsObject* svc = c_.Find("service", Str(sal->fields, "service_id"));
        const HsdsObject* loc = c_.Find("location", Str(sal->fields, "location_id"));
        bool text = Searched(*sal, q.search, {"description"}) ||
                    (svc && Searched(*svc, q.search, {"name", "alternate_name", "description"})) ||
                    (loc && Searched(*loc, q.search, {"name", "alternate_name", "description"}));
        bool service_ok =
            (q.organization_id.empty() && q.taxonomy_id.empty() && q.taxonomy_term_id.empty()) ||
            (svc && ServiceMatches(*svc, service_query));
        if (text && service_ok && LocationMatches(Str(sal->fields, "location_id"), q) &&
            Modified(*sal, q)) {
          found.push_back(sal);
        }
      }
      return Page(found, q, [this, &q](const HsdsObject& o) {
        return q.full ? c_.Compile("service_at_location", o.id)
                      : c_.CompileListItem("service_at_location", o.id);
      });
    }
    if (collection == "/taxonomies") {
      if (!id.empty()) {
        ASSIGN_OR_RETURN(Query q, ParseQuery(params, {}, "/taxonomies/{id}"));
        (void)q;
        return One("taxonomy", id, true);
      }
      ASSIGN_OR_RETURN(Query q, ParseQuery(params, paging, r));
      std::vector<const HsdsObject*> found;
      for (const HsdsObject* t : c_.OfKind("taxonomy")) {
        if (Searched(*t, q.search, {"name", "description"})) found.push_back(t);
      }
      return Page(found, q,
                  [this](const HsdsObject& o) { return c_.CompileListItem("taxonomy", o.id); });
    }
    if (collection == "/taxonomy_terms") {
      if (!id.empty()) {
        ASSIGN_OR_RETURN(Query q, ParseQuery(params, {}, "/taxonomy_terms/{id}"));
        (void)q;
        return One("taxonomy_term", id, false);
      }
      ASSIGN_OR_RETURN(Query q,
                       ParseQuery(params, with({"taxonomy_id", "parent_id", "top_only"}), r));
      std::vector<const HsdsObject*> found;
      for (const HsdsObject* t : c_.OfKind("taxonomy_term")) {
        if (!Searched(*t, q.search, {"name", "code", "description"})) continue;
        if (!q.taxonomy_id.empty() && Str(t->fields, "taxonomy_id") != q.taxonomy_id) continue;
        if (!q.parent_id.empty() && Str(t->fields, "parent_id") != q.parent_id) continue;
        if (q.top_only && !Str(t->fields, "parent_id").empty()) continue;
        found.push_back(t);
      }
      return Page(found, q, [this](const HsdsObject& o) {
        return c_.CompileListItem("taxonomy_term", o.id);
      });
    }
    return Status::NotFound("no such HSDS endpoint " + r +
                            " (see GET / and the HSDS 3.0 openapi.json)");
  }

 private:
  const HsdsCompiler& c_;
};

void Reply(httplib::Response& res, const Result<HsdsAnswer>& a) {
  if (!a.ok()) return ReplyError(res, a.status());
  if (a->ndjson) {
    std::string out;
    for (const json& item : a->body) out += item.dump() + "\n";
    res.status = 200;
    res.set_content(out, "application/x-ndjson");
    return;
  }
  ReplyJson(res, 200, a->body);
}

}  // namespace

Result<HsdsAnswer> AnswerHsds(const HsdsCompiler& objects, std::string_view route,
                              const std::multimap<std::string, std::string>& params) {
  return Answerer(objects).Answer(route, params);
}

HsdsCache::HsdsCache(LocalDirectory* dir) : dir_(dir) {}

std::shared_ptr<const HsdsCompiler> HsdsCache::Find(const std::string& key, uint64_t generation) {
  MutexLock lock(mu_);
  for (const Entry& e : entries_) {
    if (e.key == key && e.generation == generation) return e.compiled;
  }
  return nullptr;
}

std::shared_ptr<const HsdsCompiler> HsdsCache::Get(const Reader& reader) {
  std::string key = reader.organization + (reader.maintainer ? "|maintainer" : "|reader");
  // The generation is read before the state, so an entry may hold a newer state than its
  // generation says (a later request then builds again), never an older one.
  uint64_t generation = dir_->generation();
  if (auto hit = Find(key, generation)) return hit;
  MutexLock build(build_mu_);  // one build at a time; the others then find it
  if (auto hit = Find(key, generation)) return hit;
  HsdsExport flat = dir_->Read(
      [&reader](const Directory& d) { return HsdsExportOf(d, FieldSchema::Hsds(), reader); });
  auto compiled = std::make_shared<const HsdsCompiler>(std::move(flat));
  MutexLock lock(mu_);
  std::erase_if(entries_, [&key](const Entry& e) { return e.key == key; });
  if (entries_.size() >= kMaxEntries) entries_.erase(entries_.begin());
  entries_.push_back(Entry{key, generation, compiled});
  return compiled;
}

void AddHsdsRoutes(httplib::Server& server, const std::string& prefix, LocalDirectory* dir,
                   std::function<Reader()> reader) {
  auto cache = std::make_shared<HsdsCache>(dir);
  auto handler = [cache, reader](const httplib::Request& req, httplib::Response& res) {
    std::string route = req.matches.size() > 1 ? std::string(req.matches[1]) : "/";
    std::shared_ptr<const HsdsCompiler> compiled = cache->Get(reader());
    std::multimap<std::string, std::string> params(req.params.begin(), req.params.end());
    Reply(res, AnswerHsds(*compiled, route, params));
  };
  server.Get(prefix + "(/.*)?", handler);
}

// --- rate limits ---

ClientRateLimiter::ClientRateLimiter(double per_second, double burst, size_t max_clients)
    : per_second_(per_second), burst_(std::max(1.0, burst)), max_clients_(max_clients) {}

bool ClientRateLimiter::Allow(const std::string& client, uint64_t now_ms, int* retry_after_s) {
  MutexLock lock(mu_);
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_clients_) {
      // Forget the buckets that have refilled (they start full again anyway); if none has,
      // the oldest.
      for (auto b = buckets_.begin(); b != buckets_.end();) {
        double t = b->second.tokens + (now_ms - b->second.at_ms) / 1000.0 * per_second_;
        b = t >= burst_ ? buckets_.erase(b) : std::next(b);
      }
      if (buckets_.size() >= max_clients_) {
        auto oldest = std::min_element(buckets_.begin(), buckets_.end(), [](auto& a, auto& b) {
          return a.second.at_ms < b.second.at_ms;
        });
        buckets_.erase(oldest);
      }
    }
    it = buckets_.emplace(client, Bucket{burst_, now_ms}).first;
  }
  Bucket& b = it->second;
  if (now_ms > b.at_ms) {
    b.tokens = std::min(burst_, b.tokens + (now_ms - b.at_ms) / 1000.0 * per_second_);
    b.at_ms = now_ms;
  }
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  double wait = per_second_ > 0 ? (1 - b.tokens) / per_second_ : 3600;
  *retry_after_s = static_cast<int>(std::min(3600.0, std::ceil(wait)));
  if (*retry_after_s < 1) *retry_after_s = 1;
  return false;
}

// --- the public listener ---

PublicHsdsServer::PublicHsdsServer(LocalDirectory* dir, Clock* clock, Options options)
    : clock_(clock),
      options_(std::move(options)),
      limiter_(options_.rate_per_second, options_.burst),
      http_(std::make_unique<BoundedHttpServer>()) {
  httplib::Server& s = *http_;
  s.set_payload_max_length(1 << 10);
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    int retry = 0;
    if (!limiter_.Allow(req.remote_addr, clock_->MonotonicMillis(), &retry)) {
      res.set_header("Retry-After", std::to_string(retry));
      ReplyJson(res, 429,
                {{"error",
                  {{"code", "ResourceExhausted"},
                   {"message", "too many requests from this address; retry after " +
                                   std::to_string(retry) + " s"}}}});
      return httplib::Server::HandlerResponse::Handled;
    }
    if (Status text = CheckRequestText(req); !text.ok()) {
      ReplyError(res, text);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.method != "GET" && req.method != "HEAD") {
      res.set_header("Allow", "GET");
      ReplyJson(res, 405,
                {{"error",
                  {{"code", "MethodNotAllowed"},
                   {"message", "the public HSDS API is read-only: only GET"}}}});
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  HandleHttpErrors(s, "public HSDS API", "no such endpoint; see GET / (HSDS 3.0 read API)");
  AddHsdsRoutes(s, "", dir, [] { return Reader{}; });
}

PublicHsdsServer::~PublicHsdsServer() {
  Stop();
}

Result<int> PublicHsdsServer::Bind() {
  if (options_.port == 0) {
    int port = http_->bind_to_any_port(options_.host);
    if (port <= 0) return Status::Unavailable("cannot bind a port on " + options_.host);
    return port;
  }
  if (!http_->bind_to_port(options_.host, options_.port)) {
    return Status::Unavailable("cannot listen on " + options_.host + ":" +
                               std::to_string(options_.port) +
                               " for the public HSDS API (in use?)");
  }
  return options_.port;
}

void PublicHsdsServer::Serve() {
  serving_ = true;
  if (!stop_requested_) http_->listen_after_bind();
  served_ = true;
}

void PublicHsdsServer::Stop() {
  stop_requested_ = true;
  if (!serving_) return;
  while (!served_) {
    http_->stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace sb
