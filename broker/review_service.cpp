#include "broker/review_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "base/utf8.h"
#include "conflict/views.h"

namespace sb {

using nlohmann::json;

namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string Text(const Record* r, const char* field) {
  if (!r) return "";
  auto v = r->Displayed(field);
  return v && std::holds_alternative<std::string>(*v) ? std::get<std::string>(*v) : "";
}

bool Contains(const Record& r, const std::string& needle) {
  if (needle.empty()) return true;
  if (r.id().find(needle) != std::string::npos) return true;
  for (const auto& [name, f] : r.fields()) {
    if (IsShadowField(name)) continue;
    if (const auto* reg = std::get_if<MvRegister>(&f)) {
      auto d = reg->Displayed();
      if (d && std::holds_alternative<std::string>(d->second.value) &&
          Lower(std::get<std::string>(d->second.value)).find(needle) != std::string::npos) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

const std::vector<ReviewItem>& ReviewService::Queue() {
  uint64_t head = core_->stats().log_head, version = core_->journal().version();
  if (head == queue_head_ && version == queue_journal_) return queue_;
  Result<std::vector<RefusedPush>> refusals = core_->journal().Refusals();
  if (!refusals.ok()) {
    spdlog::error("review: cannot read the refused pushes: {}", refusals.status().ToString());
  }
  const Roster& roster = core_->roster();
  queue_ = DeriveQueue(
      core_->state(), refusals.ok() ? *refusals : std::vector<RefusedPush>{},
      [&roster](ReplicaId r) { return roster.OrgOfReplica(r); }, FieldSchema::Hsds());
  queue_head_ = head;
  queue_journal_ = refusals.ok() ? version : UINT64_MAX;
  return queue_;
}

const ReviewItem* ReviewService::Find(const std::string& id) {
  for (const ReviewItem& it : Queue()) {
    if (it.id == id) return &it;
  }
  return nullptr;
}

Result<json> ReviewService::List(const ReviewFilter& filter, size_t limit) {
  return loop_->Call([&]() -> Result<json> {
    uint64_t now = core_->NowMillis();
    json items = json::array();
    json counts = json::object();
    for (ReviewKind k : {ReviewKind::kConflict, ReviewKind::kNewOrganization,
                         ReviewKind::kModeratedChange, ReviewKind::kRefusedPush}) {
      counts[ReviewKindName(k)] = 0;
    }
    size_t total = 0;
    for (const ReviewItem& it : Queue()) {
      counts[ReviewKindName(it.kind)] = counts[ReviewKindName(it.kind)].get<int>() + 1;
      if (!filter.Matches(it, now)) continue;
      ++total;
      if (items.size() < limit) items.push_back(ItemJson(it, now));
    }
    return json{{"items", items}, {"total", total}, {"counts", counts}};
  });
}

json ReviewService::RecordJson(const sb::Record& r) {
  const FieldSchema& schema = FieldSchema::Hsds();
  const Roster& roster = core_->roster();
  RecordView proposed = ProposedView(r, schema);
  json fields = json::object();
  for (const auto& [name, f] : proposed.fields) {
    if (name == kDeletedField) continue;
    const FieldSpec* spec = schema.Field(r.kind(), name);
    json jf = json::object();
    if (spec && spec->type == FieldType::kTextSet) {
      jf["value"] = f.elements;
    } else {
      jf["value"] = ValueToJson(f.value);
      if (spec && spec->moderated) {
        jf["published"] = ValueToJson(r.Displayed(PublishedFieldName(name)));
        jf["pending"] = f.pending;
        if (auto rej = r.Displayed(RejectedFieldName(name));
            rej && !std::holds_alternative<Null>(*rej)) {
          jf["rejected"] = {{"value", ValueToJson(rej)},
                            {"reason", ValueToJson(r.Displayed(RejectionReasonFieldName(name)))}};
        }
      }
      if (!f.siblings.empty()) {
        const Sibling& d = f.siblings.front();
        jf["changed_by"] = roster.OrgOfReplica(d.dot.replica);
        jf["changed_at"] = IsoTime(d.stamp.millis());
      }
      if (f.siblings.size() > 1) {
        json sibs = json::array();
        for (const Sibling& s : f.siblings) {
          sibs.push_back({{"value", ValueToJson(s.value)},
                          {"org", roster.OrgOfReplica(s.dot.replica)},
                          {"at", IsoTime(s.stamp.millis())}});
        }
        jf["siblings"] = sibs;
      }
    }
    fields[name] = std::move(jf);
  }
  const sb::Record* owner = core_->state().Find(r.Owner());
  json out = {{"id", r.id()},
              {"kind", r.kind()},
              {"owner", r.Owner()},
              {"owner_name", Text(owner, "name")},
              {"deleted", r.IsDeleted()},
              {"published", owner != nullptr && IsVetted(*owner)},
              {"fields", fields}};
  json history = json::array();
  if (auto h = core_->journal().History(r.id(), 50); h.ok()) {
    for (const BrokerHistoryEntry& e : *h) {
      history.push_back({{"seq", e.seq},
                         {"at", IsoTime(e.at_ms)},
                         {"org", e.org},
                         {"by", e.by.empty() ? e.org : e.by},
                         {"replica", ReplicaHex(e.replica)},
                         {"via", e.via},
                         {"op", e.op},
                         {"fields", e.fields}});
    }
  }
  out["history"] = history;
  return out;
}

Result<json> ReviewService::Show(const std::string& id) {
  return loop_->Call([&]() -> Result<json> {
    const ReviewItem* it = Find(id);
    if (!it) {
      return Status::NotFound("no review item " + Printable(id, 64) +
                              " (it was decided, or what it names changed since; list again)");
    }
    json out = ItemJson(*it, core_->NowMillis());
    if (const sb::Record* r = it->record.empty() ? nullptr : core_->state().Find(it->record)) {
      out["record_view"] = RecordJson(*r);
    } else {
      out["record_view"] = nullptr;
    }
    return out;
  });
}

Result<json> ReviewService::Decide(const std::string& id, const Decision& d, const std::string& via,
                                   const std::string& by) {
  const std::string actor = by.empty() ? maintainer_org_ : by;
  return loop_->Call([&]() -> Result<json> {
    const ReviewItem* found = Find(id);
    if (!found) {
      return Status::NotFound("no review item " + Printable(id, 64) +
                              " (it was decided, or what it names changed since; list again)");
    }
    ReviewItem item = *found;  // the cache may be rebuilt below
    uint64_t seq = 0;
    if (item.kind == ReviewKind::kRefusedPush && d.action == ReviewAction::kReject) {
      std::string reason = d.reason;
      if (reason.size() > 1000) return Status::InvalidArgument("reason: longer than 1000 bytes");
      RETURN_IF_ERROR(core_->journal().Settle(item.refusal_seq, "dismissed", reason, actor,
                                              core_->NowMillis(), &core_->audit()));
    } else {
      // Approving a refused push writes the change and settles the refusal in one batch.
      std::function<Status(WriteBatch*)> settle;
      if (item.kind == ReviewKind::kRefusedPush) {
        settle = [&](WriteBatch* b) {
          return core_->journal().StageSettle(b, item.refusal_seq, "applied", "", actor,
                                              core_->NowMillis(), &core_->audit());
        };
      }
      ASSIGN_OR_RETURN(
          seq,
          core_->ApplyMaintainerWrite(
              [&](const Directory& dir, ReplicaId replica, Hlc stamp) {
                return PlanDecision(item, d, dir, FieldSchema::Hsds(), replica, stamp);
              },
              maintainer_org_, std::string("review.") + ReviewActionName(d.action), actor, settle));
    }
    spdlog::info("review: {} {} ({} record={} field={}) by {} via {}, logged at {}",
                 ReviewActionName(d.action), item.id, ReviewKindName(item.kind), item.record,
                 item.field, actor, via, seq);
    return json{
        {"id", item.id}, {"action", ReviewActionName(d.action)}, {"seq", seq}, {"by", actor}};
  });
}

json ReviewService::BulkApprove(const std::vector<std::string>& ids, const std::string& via,
                                const std::string& by) {
  json results = json::array();
  for (const std::string& id : ids) {
    Result<json> r = Decide(id, Decision{ReviewAction::kApprove, "", nullptr}, via, by);
    if (r.ok()) {
      results.push_back({{"id", id}, {"ok", true}, {"seq", (*r)["seq"]}});
    } else {
      results.push_back({{"id", id}, {"ok", false}, {"error", r.status().message()}});
    }
  }
  return json{{"results", results}};
}

Result<json> ReviewService::Search(const std::string& q, const std::string& kind, size_t limit) {
  if (!kind.empty()) RETURN_IF_ERROR(FieldSchema::Hsds().ValidateKind(kind));
  return loop_->Call([&]() -> Result<json> {
    std::string needle = Lower(q);
    json out = json::array();
    size_t total = 0;
    const Directory& dir = core_->state();
    for (const auto& [id, r] : dir.records()) {
      if (!kind.empty() && r.kind() != kind) continue;
      if (!Contains(r, needle)) continue;
      ++total;
      if (out.size() >= limit) continue;
      const sb::Record* owner = dir.Find(r.Owner());
      std::string name = Text(&r, "name");
      if (name.empty()) name = Text(&r, "number");
      size_t pending = 0;
      for (const auto& [fname, f] : ProposedView(r, FieldSchema::Hsds()).fields)
        pending += f.pending;
      out.push_back({{"id", id},
                     {"kind", r.kind()},
                     {"name", name},
                     {"owner", r.Owner()},
                     {"owner_name", Text(owner, "name")},
                     {"published", owner != nullptr && IsVetted(*owner)},
                     {"deleted", r.IsDeleted()},
                     {"pending", pending},
                     {"conflicts", Conflicts(r, FieldSchema::Hsds()).size()}});
    }
    return json{{"records", out}, {"total", total}};
  });
}

Result<json> ReviewService::Record(const std::string& id) {
  return loop_->Call([&]() -> Result<json> {
    const sb::Record* r = core_->state().Find(id);
    if (!r) return Status::NotFound("no record " + Printable(id, 64));
    return RecordJson(*r);
  });
}

}  // namespace sb
