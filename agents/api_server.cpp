#include "agents/api_server.h"

#include <httplib.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <thread>

#include "agents/hsds_api.h"
#include "agents/hsds_export.h"
#include "agents/hsds_import.h"
#include "agents/hsds_json.h"
#include "agents/hsds_tabular.h"
#include "agents/internal/referral_api.h"
#include "conflict/views.h"
#include "http/http_auth.h"
#include "http/http_limits.h"
#include "http/http_reply.h"
#include "store/quarantine.h"

namespace sb {

using nlohmann::json;

namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// True when any displayed text of `r` contains `q` (case-insensitive).
bool Matches(const Record& r, const std::string& q) {
  if (q.empty()) return true;
  if (Lower(r.id()).find(q) != std::string::npos) return true;
  for (const auto& [name, f] : r.fields()) {
    if (const auto* reg = std::get_if<MvRegister>(&f)) {
      auto d = reg->Displayed();
      if (d && std::holds_alternative<std::string>(d->second.value) &&
          Lower(std::get<std::string>(d->second.value)).find(q) != std::string::npos) {
        return true;
      }
    } else {
      for (const auto& e : std::get<AwSet>(f).Elements()) {
        if (Lower(e).find(q) != std::string::npos) return true;
      }
    }
  }
  return false;
}

// Who reads through this API (DESIGN.md §3, §8). A partner's agent shows other organizations'
// records as published: moderated fields at the value a maintainer approved (absent until one
// did), rejection notes left out; and it leaves the records of organizations no maintainer has
// vetted out of listings and exports (a direct GET still answers, with "published": false).
// Its own records it shows as proposed, with pending changes and rejections marked. A
// stand-alone agent and a maintainer's agent show everything as proposed. The role comes
// from the sync session: the role the broker last welcomed this agent with, kept across
// restarts (an agent never welcomed counts as a partner); an agent without a broker is
// "standalone" (/v1/status says which).
struct Viewer {
  std::string org;
  bool maintainer = false;

  bool SeesProposed(const Record& r) const { return org.empty() || maintainer || r.Owner() == org; }
  static bool Published(const Record& r, const Directory& d) {
    const Record* owner = d.Find(r.Owner());
    return owner != nullptr && IsVetted(*owner);
  }
  bool Lists(const Record& r, const Directory& d) const {
    return SeesProposed(r) || Published(r, d);
  }
  Record View(const Record& r) const {
    return SeesProposed(r) ? r : PublishedProjection(r, FieldSchema::Hsds());
  }
  json Show(const Record& r, const Directory& d) const {
    json j = RecordJson(View(r), FieldSchema::Hsds());
    j["published"] = Published(r, d);
    return j;
  }
};

}  // namespace

ApiServer::ApiServer(LocalDirectory* dir, Clock* clock, Options options)
    : dir_(dir),
      clock_(clock),
      options_(std::move(options)),
      http_(std::make_unique<BoundedHttpServer>()) {
  Routes();
}

ApiServer::~ApiServer() {
  Stop();
}

Result<int> ApiServer::Bind() {
  if (options_.host != "127.0.0.1" && options_.host != "localhost" && options_.host != "::1") {
    return Status::InvalidArgument("the local API listens on 127.0.0.1 only (got " + options_.host +
                                   ")");
  }
  std::string host = options_.host == "localhost" ? "127.0.0.1" : options_.host;
  if (options_.port == 0) {
    int port = http_->bind_to_any_port(host);
    if (port <= 0) return Status::Unavailable("cannot bind a port on " + host);
    return port_ = port;
  }
  if (!http_->bind_to_port(host, options_.port)) {
    return Status::Unavailable("cannot listen on " + host + ":" + std::to_string(options_.port) +
                               " (in use? choose another with --api 127.0.0.1:PORT)");
  }
  return port_ = options_.port;
}

void ApiServer::Serve() {
  serving_ = true;
  if (!stop_requested_) http_->listen_after_bind();
  served_ = true;
}

void ApiServer::Stop() {
  // Serve stores serving_ then reads stop_requested_; Stop stores stop_requested_ then reads
  // serving_ (all sequentially consistent): either Serve never listens, or Stop sees it.
  stop_requested_ = true;
  if (!serving_) return;
  // httplib ignores stop() until its listen loop runs: repeat until Serve has returned.
  while (!served_) {
    http_->stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string ApiServer::CurrentRole() const {
  json st = options_.sync_status ? options_.sync_status() : json(nullptr);
  if (!st.is_object()) return "standalone";
  std::string role = st.value("role", "");
  return role.empty() ? "partner" : role;
}

void ApiServer::Routes() {
  httplib::Server& s = *http_;
  // The reader's organization and role, as of this request.
  auto CurrentViewer = [this] {
    std::string role = CurrentRole();
    return Viewer{options_.org, role == "maintainer" || role == "standalone"};
  };
  s.set_payload_max_length(options_.max_body_bytes);

  // Authentication before routing: everything but /healthz needs the bearer token.
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    requests_++;
    if (Status text = CheckRequestText(req); !text.ok()) {
      refused_++;
      ReplyError(res, text);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!LocalHostMatches(req.get_header_value("Host"), port_)) {
      refused_++;
      ReplyError(
          res, Status::PermissionDenied("unexpected Host header: the API answers only requests for "
                                        "127.0.0.1:PORT or localhost:PORT"));
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.path == "/healthz") return httplib::Server::HandlerResponse::Unhandled;
    std::string auth = req.get_header_value("Authorization");
    bool ok = BearerMatches(auth, options_.token);
    if (!ok) {
      unauthorized_++;
      spdlog::warn("api: refused {} {}: {} token", req.method, req.path,
                   auth.empty() ? "missing" : "wrong");
      ReplyError(res, Status::Unauthenticated(
                          "missing or wrong token: send 'Authorization: Bearer <token>' with the "
                          "token from the data directory's api.token"));
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  HandleHttpErrors(s, "agent", "no such endpoint; see switchboard agent --help");

  if (options_.referrals) AddReferralRoutes(s, options_.referrals, clock_);

  s.Get("/v1/quarantine", [this](const httplib::Request&, httplib::Response& res) {
    json out = json::array();
    if (options_.quarantine) {
      auto list = options_.quarantine->List(Quarantine::kMaxKept);
      if (!list.ok()) return ReplyError(res, list.status());
      for (const QuarantineEntry& e : *list) out.push_back(QuarantineJson(e));
    }
    ReplyJson(
        res, 200,
        {{"quarantine", out}, {"kept", options_.quarantine ? options_.quarantine->kept() : 0}});
  });

  s.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    ReplyJson(res, 200, {{"status", "ok"}, {"replica", ReplicaHex(dir_->replica())}});
  });

  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    size_t records = dir_->Read([](const Directory& d) { return d.size(); });
    std::string m;
    m += "# TYPE switchboard_api_requests_total counter\nswitchboard_api_requests_total " +
         std::to_string(requests_) + "\n";
    m += "# TYPE switchboard_api_writes_total counter\nswitchboard_api_writes_total " +
         std::to_string(writes_) + "\n";
    m += "# TYPE switchboard_api_refused_total counter\nswitchboard_api_refused_total " +
         std::to_string(refused_) + "\n";
    m += "# TYPE switchboard_api_unauthorized_total counter\nswitchboard_api_unauthorized_total " +
         std::to_string(unauthorized_) + "\n";
    m += "# TYPE switchboard_records gauge\nswitchboard_records " + std::to_string(records) + "\n";
    if (options_.sync_status) {
      // The sync session's counters (sync_session.h): restarts and repeats with their reasons
      // are in the log; here, how many.
      json st = options_.sync_status();
      if (st.is_object() && st.contains("clock_skew_ms") && st["clock_skew_ms"].is_number()) {
        // This computer's clock minus the broker's; past the allowed skew ahead, edits wait.
        char v[32];
        std::snprintf(v, sizeof v, "%.3f", st["clock_skew_ms"].get<int64_t>() / 1000.0);
        m += std::string("# TYPE switchboard_clock_skew_seconds gauge\n") +
             "switchboard_clock_skew_seconds " + v + "\n";
      }
      for (const char* k :
           {"connects", "session_restarts", "hello_repeats", "stalls", "rewinds", "checkpoints",
            "applied", "pushed", "accepted", "refused", "pushes_held", "collected"}) {
        if (!st.is_object() || !st.contains(k) || !st[k].is_number_unsigned()) continue;
        m += std::string("# TYPE switchboard_sync_") + k + "_total counter\nswitchboard_sync_" + k +
             "_total " + std::to_string(st[k].get<uint64_t>()) + "\n";
      }
    }
    if (options_.quarantine) {
      m += "# TYPE switchboard_quarantined_total counter\nswitchboard_quarantined_total " +
           std::to_string(options_.quarantine->added()) + "\n";
      m += "# TYPE switchboard_quarantine_kept gauge\nswitchboard_quarantine_kept " +
           std::to_string(options_.quarantine->kept()) + "\n";
    }
    m += "# TYPE switchboard_outbox_depth gauge\nswitchboard_outbox_depth " +
         std::to_string(dir_->outbox_depth()) + "\n";
    res.set_content(m, "text/plain; version=0.0.4");
  });

  s.Get("/v1/records", [this, CurrentViewer](const httplib::Request& req, httplib::Response& res) {
    std::string kind = req.get_param_value("kind");
    std::string q = Lower(req.get_param_value("q"));
    std::string cursor = req.get_param_value("cursor");
    size_t limit = 50;
    if (req.has_param("limit")) {
      const std::string& l = req.get_param_value("limit");
      if (l.empty() || l.size() > 6 || !std::all_of(l.begin(), l.end(), ::isdigit) ||
          std::stoul(l) == 0 || std::stoul(l) > 1000) {
        return ReplyError(res,
                          Status::InvalidArgument("limit: must be a whole number from 1 to 1000"));
      }
      limit = std::stoul(l);
    }
    if (!kind.empty()) {
      Status ks = FieldSchema::Hsds().ValidateKind(kind);
      if (!ks.ok()) return ReplyError(res, ks.WithContext("kind"));
    }
    bool include_deleted = req.get_param_value("deleted") == "true";
    Viewer viewer = CurrentViewer();
    json out = dir_->Read([&](const Directory& d) {
      json records = json::array();
      std::string next;
      auto it = cursor.empty() ? d.records().begin() : d.records().upper_bound(cursor);
      for (; it != d.records().end(); ++it) {
        const Record& r = it->second;
        if (!kind.empty() && r.kind() != kind) continue;
        if (r.IsDeleted() && !include_deleted) continue;
        if (!viewer.Lists(r, d)) continue;
        Record shown = viewer.View(r);
        if (!Matches(shown, q)) continue;
        if (records.size() == limit) {
          next = records.back()["id"].get<std::string>();
          break;
        }
        records.push_back(RecordSummaryJson(shown, FieldSchema::Hsds()));
      }
      return json{{"records", std::move(records)},
                  {"next_cursor", next.empty() ? json(nullptr) : json(next)}};
    });
    ReplyJson(res, 200, out);
  });

  s.Get(R"(/v1/records/([^/]+))",
        [this, CurrentViewer](const httplib::Request& req, httplib::Response& res) {
          std::string id = req.matches[1];
          Viewer viewer = CurrentViewer();
          auto found = dir_->Read([&](const Directory& d) -> std::optional<json> {
            const Record* r = d.Find(id);
            if (!r) return std::nullopt;
            return viewer.Show(*r, d);
          });
          if (!found) return ReplyError(res, Status::NotFound("no record " + id));
          ReplyJson(res, 200, *found);
        });

  s.Put(R"(/v1/records/([^/]+))", [this, CurrentViewer](const httplib::Request& req,
                                                        httplib::Response& res) {
    std::string id = req.matches[1];
    if (req.body.size() > options_.max_record_bytes) {
      refused_++;
      return ReplyError(
          res, Status::ResourceExhausted("a record update may be at most " +
                                         std::to_string(options_.max_record_bytes) + " bytes"));
    }
    Result<json> body = ParseBody(req, JsonLimits{options_.max_body_bytes, 64});
    if (!body.ok()) return refused_++, ReplyError(res, body.status());
    if (!body->is_object() || !body->contains("fields")) {
      refused_++;
      return ReplyError(res, Status::InvalidArgument(
                                 "body must be {\"kind\": KIND, \"fields\": {FIELD: VALUE, ...}}"));
    }
    for (const auto& [k, v] : body->items()) {
      if (k != "kind" && k != "fields") {
        refused_++;
        return ReplyError(res, Status::InvalidArgument("unknown key '" + k + "' in the body"));
      }
    }
    std::string existing_kind = dir_->Read([&](const Directory& d) {
      const Record* r = d.Find(id);
      return r ? r->kind() : std::string();
    });
    std::string kind = existing_kind;
    if (body->contains("kind")) {
      if (!(*body)["kind"].is_string()) {
        refused_++;
        return ReplyError(res, Status::InvalidArgument("kind: must be text"));
      }
      kind = (*body)["kind"].get<std::string>();
    }
    if (kind.empty()) {
      refused_++;
      return ReplyError(res, Status::InvalidArgument("kind: required to create record " + id));
    }
    json fields = (*body)["fields"];
    // A new record without an owner belongs to the organization it names (or is one).
    if (existing_kind.empty() && fields.is_object() && !fields.contains("owner")) {
      if (!options_.org.empty())
        fields["owner"] = options_.org;
      else if (kind == "organization")
        fields["owner"] = id;
      else if (fields.contains("organization_id") && fields["organization_id"].is_string())
        fields["owner"] = fields["organization_id"];
    }
    Result<RecordEdit> edit = EditFromJson(FieldSchema::Hsds(), kind, id, fields);
    if (!edit.ok()) return refused_++, ReplyError(res, edit.status());
    auto outcome = dir_->Apply({std::move(edit).value()}, "api");
    if (!outcome.ok()) {
      refused_++;
      spdlog::info("api: refused PUT {}: {}", id, outcome.status().ToString());
      return ReplyError(res, outcome.status());
    }
    writes_++;
    const EditOutcome& o = outcome->front();
    spdlog::info("api: {} {} {} fields=[{}]", o.op, kind, id, fmt::join(o.changed, ","));
    Viewer viewer = CurrentViewer();
    json record = dir_->Read([&](const Directory& d) { return viewer.Show(*d.Find(id), d); });
    ReplyJson(res, 200,
              {{"id", id},
               {"op", o.op},
               {"changed", o.changed},
               {"record", record},
               {"role", CurrentRole()}});
  });

  auto remove_or_restore = [this](const httplib::Request& req, httplib::Response& res,
                                  bool restore) {
    std::string id = req.matches[1];
    std::string kind = dir_->Read([&](const Directory& d) {
      const Record* r = d.Find(id);
      return r ? r->kind() : std::string();
    });
    if (kind.empty()) return ReplyError(res, Status::NotFound("no record " + id));
    RecordEdit e;
    e.id = id;
    e.kind = kind;
    (restore ? e.restore : e.remove) = true;
    auto outcome = dir_->Apply({std::move(e)}, "api");
    if (!outcome.ok()) return refused_++, ReplyError(res, outcome.status());
    writes_++;
    spdlog::info("api: {} {} {}", outcome->front().op, kind, id);
    ReplyJson(res, 200, {{"id", id}, {"op", outcome->front().op}});
  };
  s.Delete(R"(/v1/records/([^/]+))",
           [remove_or_restore](const httplib::Request& req, httplib::Response& res) {
             remove_or_restore(req, res, false);
           });
  s.Post(R"(/v1/records/([^/]+)/restore)",
         [remove_or_restore](const httplib::Request& req, httplib::Response& res) {
           remove_or_restore(req, res, true);
         });

  s.Get(R"(/v1/records/([^/]+)/history)",
        [this](const httplib::Request& req, httplib::Response& res) {
          std::string id = req.matches[1];
          bool exists = dir_->Read([&](const Directory& d) { return d.Find(id) != nullptr; });
          if (!exists) return ReplyError(res, Status::NotFound("no record " + id));
          auto h = dir_->History(id);
          if (!h.ok()) return ReplyError(res, h.status());
          json out = json::array();
          for (const HistoryEntry& e : *h) {
            out.push_back({{"seq", e.seq},
                           {"at", IsoTime(e.at_ms)},
                           {"hlc", e.hlc},
                           {"by", e.replica},
                           {"actor", e.actor},
                           {"op", e.op},
                           {"fields", e.fields}});
          }
          ReplyJson(res, 200, {{"id", id}, {"history", out}});
        });

  s.Post("/v1/import", [this](const httplib::Request& req, httplib::Response& res) {
    // The tabular form (agents/hsds_tabular.h) comes as a zip: ?format=tabular or
    // Content-Type: application/zip.
    const bool tabular = req.get_param_value("format") == "tabular" ||
                         req.get_header_value("Content-Type") == "application/zip";
    Result<json> body =
        tabular ? Result<json>(json()) : ParseBody(req, JsonLimits{options_.max_body_bytes, 64});
    if (!body.ok()) return refused_++, ReplyError(res, body.status());
    HsdsImportOptions import_options;
    import_options.skip_invalid =
        req.get_param_value("skip_invalid") == "1" || req.get_param_value("skip_invalid") == "true";
    import_options.importer_org = options_.org;
    auto imported = tabular ? ImportTabularZip(FieldSchema::Hsds(), req.body, import_options)
                            : ImportHsdsJson(FieldSchema::Hsds(), *body, import_options);
    auto problem_list = [](const std::vector<ImportProblem>& problems) {
      json list = json::array();
      for (const auto& p : problems) {
        list.push_back({{"where", p.where}, {"record", p.record}, {"error", p.error}});
      }
      return list;
    };
    if (!imported.ok()) {
      refused_++;
      spdlog::info("api: refused import: {}", imported.status().message());
      return ReplyError(res, imported.status().WithContext("nothing was imported"));
    }
    if (!import_options.skip_invalid && !imported->problems.empty()) {
      refused_++;
      Status refusal = Status::InvalidArgument(std::to_string(imported->problems.size()) +
                                               " problem(s); nothing was imported");
      spdlog::info("api: refused import: {}", refusal.message());
      return ReplyError(res, refusal, {{"problems", problem_list(imported->problems)}});
    }
    std::vector<RecordEdit> edits = std::move(imported->edits);
    size_t n = edits.size();
    if (edits.empty()) {
      // Everything was skipped: nothing to write.
      return ReplyJson(res, 200,
                       {{"records", 0},
                        {"created", 0},
                        {"updated", 0},
                        {"unchanged", 0},
                        {"objects", imported->objects},
                        {"skipped", imported->skipped},
                        {"problems", problem_list(imported->problems)}});
    }
    auto outcome = dir_->Apply(std::move(edits), "import");
    if (!outcome.ok()) {
      refused_++;
      spdlog::info("api: refused import: {}", outcome.status().ToString());
      return ReplyError(res, outcome.status().WithContext("nothing was imported"));
    }
    writes_++;
    std::map<std::string, size_t> by_op;
    for (const auto& o : *outcome) by_op[o.op]++;
    spdlog::info("api: imported {} records ({} created, {} updated, {} unchanged)", n,
                 by_op["create"], by_op["update"], by_op["unchanged"]);
    ReplyJson(res, 200,
              {{"records", n},
               {"created", by_op["create"]},
               {"updated", by_op["update"]},
               {"unchanged", by_op["unchanged"]},
               {"objects", imported->objects},
               {"skipped", imported->skipped},
               {"problems", problem_list(imported->problems)}});
  });

  if (options_.checkpoint) {
    s.Post("/v1/backup", [this](const httplib::Request&, httplib::Response& res) {
      Result<std::string> dir = options_.checkpoint();
      if (!dir.ok()) return ReplyError(res, dir.status());
      spdlog::info("api: store checkpoint for a backup made in {}", *dir);
      ReplyJson(res, 200, {{"checkpoint", *dir}});
    });
  }
  s.Get("/v1/status", [this](const httplib::Request&, httplib::Response& res) {
    size_t records = dir_->Read([](const Directory& d) { return d.size(); });
    json out = {{"replica", ReplicaHex(dir_->replica())},
                {"org", options_.org.empty() ? json(nullptr) : json(options_.org)},
                {"records", records},
                {"outbox_depth", dir_->outbox_depth()},
                {"cursor", dir_->sync_cursor()},
                {"role", CurrentRole()}};
    out["sync"] = options_.sync_status ? options_.sync_status() : json(nullptr);
    ReplyJson(res, 200, out);
  });

  s.Get("/v1/rejections", [this](const httplib::Request&, httplib::Response& res) {
    auto list = dir_->Rejections(1000);
    if (!list.ok()) return ReplyError(res, list.status());
    json out = json::array();
    for (const Rejection& r : *list) {
      out.push_back({{"outbox_seq", r.outbox_seq},
                     {"at", IsoTime(r.at_ms)},
                     {"reason", r.reason},
                     {"records", r.records}});
    }
    ReplyJson(res, 200, {{"rejections", out}});
  });

  // The export: compiled HSDS objects the reader may see (?view=organization|service|
  // service_at_location), or the older envelope document (?format=envelope).
  s.Get("/v1/export", [this, CurrentViewer](const httplib::Request& req, httplib::Response& res) {
    for (const auto& [k, v] : req.params) {
      if (k != "view" && k != "format") {
        return ReplyError(
            res, Status::InvalidArgument("unknown parameter '" + k + "' (known: view, format)"));
      }
    }
    std::string format = req.has_param("format") ? req.get_param_value("format") : "compiled";
    if (format != "compiled" && format != "envelope" && format != "tabular") {
      return ReplyError(res,
                        Status::InvalidArgument("format: must be compiled, envelope or tabular"));
    }
    HsdsView view = HsdsView::kOrganization;
    if (req.has_param("view") && !ParseHsdsView(req.get_param_value("view"), &view)) {
      return ReplyError(res, Status::InvalidArgument(
                                 "view: must be organization, service or service_at_location"));
    }
    Viewer viewer = CurrentViewer();
    if (format == "compiled" || format == "tabular") {
      Reader reader{viewer.org, viewer.maintainer};
      HsdsExport flat = dir_->Read(
          [&](const Directory& d) { return HsdsExportOf(d, FieldSchema::Hsds(), reader); });
      size_t left_out = flat.left_out.size();
      for (size_t i = 0; i < left_out && i < 20; ++i) {
        spdlog::info("api: export left out {}", flat.left_out[i]);
      }
      if (format == "tabular") {  // CSV files + datapackage.json in a zip
        // metadata.csv too: each record's last change, as the compiled views carry it.
        std::vector<HsdsObject> objects = std::move(flat.objects);
        for (HsdsObject& m : flat.metadata) objects.push_back(std::move(m));
        Result<std::string> zip = TabularZip(objects);
        if (!zip.ok()) return ReplyError(res, zip.status());
        res.status = 200;
        res.set_header("X-Switchboard-Left-Out", std::to_string(left_out));
        res.set_content(std::move(zip).value(), "application/zip");
        return;
      }
      json doc = HsdsCompiler(std::move(flat)).CompileAll(view);
      res.status = 200;
      res.set_header("X-Switchboard-Left-Out", std::to_string(left_out));
      res.set_content(DumpJson(doc, 1) + "\n", "application/json");
      return;
    }
    json doc = dir_->Read([&](const Directory& d) {
      if (viewer.org.empty() || viewer.maintainer) return ExportHsds(d, FieldSchema::Hsds());
      Directory shown;
      for (const auto& [id, r] : d.records()) {
        if (viewer.Lists(r, d)) shown.Replace(viewer.View(r));
      }
      return ExportHsds(shown, FieldSchema::Hsds());
    });
    res.status = 200;
    res.set_content(DumpJson(doc, 1) + "\n", "application/json");
  });

  // The HSDS 3.0 read API (agents/hsds_api.h) under /hsds, read as this API reads.
  AddHsdsRoutes(s, "/hsds", dir_, [CurrentViewer] {
    Viewer viewer = CurrentViewer();
    return Reader{viewer.org, viewer.maintainer};
  });
}

}  // namespace sb
