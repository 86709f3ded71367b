#include "broker/review.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <map>
#include <set>

#include "base/utf8.h"
#include "conflict/field_json.h"
#include "conflict/views.h"

namespace sb {

using nlohmann::json;

const char* ReviewKindName(ReviewKind k) {
  switch (k) {
    case ReviewKind::kConflict:
      return "conflict";
    case ReviewKind::kNewOrganization:
      return "new_organization";
    case ReviewKind::kModeratedChange:
      return "moderated_change";
    case ReviewKind::kRefusedPush:
      return "refused_push";
  }
  return "?";
}

Result<ReviewKind> ParseReviewKind(std::string_view s) {
  for (ReviewKind k : {ReviewKind::kConflict, ReviewKind::kNewOrganization,
                       ReviewKind::kModeratedChange, ReviewKind::kRefusedPush}) {
    if (s == ReviewKindName(k)) return k;
  }
  return Status::InvalidArgument(
      "kind: must be one of conflict, new_organization, "
      "moderated_change, refused_push (got '" +
      Printable(s, 40) + "')");
}

const char* ReviewActionName(ReviewAction a) {
  switch (a) {
    case ReviewAction::kApprove:
      return "approve";
    case ReviewAction::kReject:
      return "reject";
    case ReviewAction::kResolve:
      return "resolve";
  }
  return "?";
}

json ValueToJson(const std::optional<Value>& v) {
  if (!v) return nullptr;
  if (const auto* s = std::get_if<std::string>(&*v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&*v)) return *i;
  if (const auto* b = std::get_if<bool>(&*v)) return *b;
  return nullptr;
}

namespace {

// 12 hex digits of BLAKE2b over `s`: short enough to type, long enough never to collide in
// one queue.
std::string ShortHash(const std::string& s) {
  unsigned char out[16];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(s.data()), s.size(),
                     nullptr, 0);
  char hex[13];
  for (int i = 0; i < 6; ++i) std::snprintf(hex + 2 * i, 3, "%02x", out[i]);
  return hex;
}

std::optional<Value> Normalized(std::optional<Value> v) {
  if (v && std::holds_alternative<Null>(*v)) return std::nullopt;
  return v;
}

std::string Text(const Record* r, const char* field) {
  if (!r) return "";
  auto v = r->Displayed(field);
  return v && std::holds_alternative<std::string>(*v) ? std::get<std::string>(*v) : "";
}

std::string NameOf(const Record& r) {
  for (const char* f : {"name", "number", "description"}) {
    std::string s = Text(&r, f);
    if (!s.empty()) return s;
  }
  return "";
}

ReviewWrite WriteOf(const Dot& dot, const Hlc& stamp, const Value& v, const OrgOfReplica& org_of) {
  return ReviewWrite{ValueToJson(v), org_of(dot.replica), dot.replica, stamp.millis()};
}

std::string DotsOf(const MvRegister* reg) {
  std::string s;
  if (!reg) return s;
  for (const auto& [dot, e] : reg->entries()) s += dot.ToString() + ",";
  return s;
}

ReviewItem Base(ReviewKind kind, const Record& r, const Directory& dir) {
  ReviewItem it;
  it.kind = kind;
  it.record = r.id();
  it.record_kind = r.kind();
  it.record_name = NameOf(r);
  it.org = r.Owner();
  it.org_name = Text(dir.Find(it.org), "name");
  return it;
}

// The displayed values of a record's own fields (no shadows, owner or deletion flag).
json FieldsOf(const Record& r) {
  json out = json::object();
  for (const auto& [name, f] : r.fields()) {
    if (IsShadowField(name) || name == kOwnerField || name == kDeletedField) continue;
    if (const auto* reg = std::get_if<MvRegister>(&f)) {
      if (auto d = reg->Displayed()) out[name] = ValueToJson(d->second.value);
    } else {
      out[name] = std::get<AwSet>(f).Elements();
    }
  }
  return out;
}

// The latest write among a record's fields for which `pick(name)` holds.
std::optional<ReviewWrite> LatestWrite(const Record& r, const OrgOfReplica& org_of,
                                       const std::function<bool(const std::string&)>& pick) {
  std::optional<ReviewWrite> best;
  for (const auto& [name, f] : r.fields()) {
    if (!pick(name)) continue;
    if (const auto* reg = std::get_if<MvRegister>(&f)) {
      for (const auto& [dot, e] : reg->entries()) {
        if (!best || e.stamp.millis() > best->at_ms) best = WriteOf(dot, e.stamp, e.value, org_of);
      }
    }
  }
  return best;
}

void AddConflicts(const Record& r, const Directory& dir, const OrgOfReplica& org_of,
                  const FieldSchema& schema, std::vector<ReviewItem>* out,
                  std::set<std::string>* conflicted) {
  json stray = json::object();
  std::string stray_key;
  std::optional<ReviewWrite> stray_who;
  for (const Conflict& c : Conflicts(r, schema)) {
    if (c.kind == ConflictKind::kEditedWhileDeleted) {
      stray[c.field] = c.siblings.empty() ? json(nullptr) : ValueToJson(c.siblings.front().value);
      for (const Sibling& s : c.siblings) {
        stray_key += c.field + ":" + s.dot.ToString() + ",";
        if (!stray_who || s.stamp.millis() > stray_who->at_ms) {
          stray_who = WriteOf(s.dot, s.stamp, s.value, org_of);
        }
      }
      continue;
    }
    ReviewItem it = Base(ReviewKind::kConflict, r, dir);
    it.field = c.field;
    it.detail = ConflictKindName(c.kind);
    std::string key = "c|" + r.id() + "|" + c.field + "|";
    json others = json::array();
    for (const Sibling& s : c.siblings) {
      it.siblings.push_back(WriteOf(s.dot, s.stamp, s.value, org_of));
      key += s.dot.ToString() + ",";
      if (it.siblings.size() > 1) others.push_back(ValueToJson(s.value));
      if (s.stamp.millis() >= it.who.at_ms) it.who = it.siblings.back();
    }
    it.before = c.siblings.empty() ? json(nullptr) : ValueToJson(c.siblings.front().value);
    it.after = others;
    it.id = "c-" + ShortHash(key);
    it.actions = {"approve", "resolve"};
    conflicted->insert(c.field);
    out->push_back(std::move(it));
  }
  if (!stray.empty()) {
    ReviewItem it = Base(ReviewKind::kConflict, r, dir);
    it.detail = ConflictKindName(ConflictKind::kEditedWhileDeleted);
    it.before = json{{"deleted", true}};
    it.after = stray;
    if (stray_who) it.who = *stray_who;
    it.id = "c-" + ShortHash("d|" + r.id() + "|" + stray_key + DotsOf(r.Register(kDeletedField)));
    it.actions = {"resolve"};
    out->push_back(std::move(it));
  }
}

void AddVetting(const Record& r, const Directory& dir, const OrgOfReplica& org_of,
                const FieldSchema& schema, std::vector<ReviewItem>* out) {
  const MvRegister* approved = r.Register(kApprovedField);
  bool waiting = approved == nullptr || approved->empty();
  bool resubmitted = false;
  if (!waiting && approved->size() == 1 && !IsVetted(r)) {
    // Declined: back in the queue once the organization changes its listing afterwards.
    Hlc declined_at = approved->Displayed()->second.stamp;
    for (const auto& [name, f] : r.fields()) {
      const FieldSpec* spec = schema.Field(r.kind(), name);
      if (!spec || spec->maintainer_only || IsShadowField(name)) continue;
      if (const auto* reg = std::get_if<MvRegister>(&f)) {
        for (const auto& [dot, e] : reg->entries()) resubmitted |= e.stamp > declined_at;
      }
    }
  }
  if (!waiting && !resubmitted) return;
  ReviewItem it = Base(ReviewKind::kNewOrganization, r, dir);
  it.org = r.Owner().empty() ? r.id() : r.Owner();
  it.org_name = Text(&r, "name");
  it.detail = resubmitted ? "changed since a maintainer declined it" : "awaiting vetting";
  it.before = resubmitted ? json{{kApprovedField, false},
                                 {kVettingNoteField, ValueToJson(r.Displayed(kVettingNoteField))}}
                          : json(nullptr);
  it.after = FieldsOf(r);
  auto who = LatestWrite(r, org_of, [&](const std::string& name) {
    const FieldSpec* spec = schema.Field(r.kind(), name);
    return spec && !spec->maintainer_only && !IsShadowField(name);
  });
  if (who) it.who = *who;
  it.id = "o-" + ShortHash("o|" + r.id() + "|" + DotsOf(approved));
  it.actions = {"approve", "reject"};
  out->push_back(std::move(it));
}

void AddModerated(const Record& r, const Directory& dir, const OrgOfReplica& org_of,
                  const FieldSchema& schema, const std::set<std::string>& conflicted,
                  std::vector<ReviewItem>* out) {
  for (const auto& [name, f] : r.fields()) {
    const FieldSpec* spec = schema.Field(r.kind(), name);
    const auto* reg = std::get_if<MvRegister>(&f);
    if (!spec || !spec->moderated || !reg || reg->size() != 1 || conflicted.count(name)) continue;
    auto shown = reg->Displayed();
    std::optional<Value> published = r.Displayed(PublishedFieldName(name));
    if (Normalized(shown->second.value) == Normalized(published)) continue;
    ReviewItem it = Base(ReviewKind::kModeratedChange, r, dir);
    it.field = name;
    it.detail = published ? "changed" : "first value";
    it.before = ValueToJson(Normalized(published));
    it.after = ValueToJson(shown->second.value);
    it.who = WriteOf(shown->first, shown->second.stamp, shown->second.value, org_of);
    it.id = "m-" + ShortHash("m|" + r.id() + "|" + name + "|" + shown->first.ToString() + "|" +
                             DotsOf(r.Register(PublishedFieldName(name))));
    it.actions = {"approve", "reject", "resolve"};
    out->push_back(std::move(it));
  }
}

void AddRefusal(const RefusedPush& p, const Directory& dir, std::vector<ReviewItem>* out) {
  ReviewItem it;
  it.kind = ReviewKind::kRefusedPush;
  it.id = "r-" + std::to_string(p.seq);
  it.refusal_seq = p.seq;
  it.detail = p.reason;
  it.org = p.org;
  it.org_name = Text(dir.Find(p.org), "name");
  it.who = ReviewWrite{nullptr, p.org, p.replica, p.at_ms};
  json before = json::array(), after = json::array();
  std::set<std::string> fields;
  for (const RefusedChange& c : p.changes) {
    const Record* cur = dir.Find(c.record);
    for (const auto& [field, v] : c.values) {
      after.push_back(
          {{"record", c.record}, {"kind", c.kind}, {"field", field}, {"value", ValueToJson(v)}});
      before.push_back({{"record", c.record},
                        {"field", field},
                        {"value", cur ? ValueToJson(cur->Displayed(field)) : json(nullptr)}});
      fields.insert(field);
    }
    for (const auto& [field, els] : c.sets) {
      after.push_back({{"record", c.record}, {"kind", c.kind}, {"field", field}, {"value", els}});
      const AwSet* set = cur ? cur->Set(field) : nullptr;
      before.push_back({{"record", c.record},
                        {"field", field},
                        {"value", set ? json(set->Elements()) : json(nullptr)}});
      fields.insert(field);
    }
  }
  if (!p.changes.empty()) {
    it.record = p.changes.front().record;
    it.record_kind = p.changes.front().kind;
    if (const Record* cur = dir.Find(it.record)) it.record_name = NameOf(*cur);
  }
  for (const std::string& f : fields) it.field += (it.field.empty() ? "" : ",") + f;
  it.before = std::move(before);
  it.after = std::move(after);
  it.actions = (p.truncated || p.changes.empty()) ? std::vector<std::string>{"reject"}
                                                  : std::vector<std::string>{"approve", "reject"};
  out->push_back(std::move(it));
}

}  // namespace

ReplicaId ReviewReplicaFor(std::string_view broker_sign_public) {
  if (sodium_init() < 0) return 1;
  std::string input = "switchboard review replica\n" + std::string(broker_sign_public);
  unsigned char out[16];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size(), nullptr, 0);
  ReplicaId r = 0;
  for (int i = 0; i < 8; ++i) r = (r << 8) | out[i];
  return r == 0 ? 1 : r;
}

std::vector<ReviewItem> DeriveQueue(const Directory& dir, const std::vector<RefusedPush>& refusals,
                                    const OrgOfReplica& org_of, const FieldSchema& schema) {
  if (sodium_init() < 0) return {};
  std::vector<ReviewItem> out;
  for (const auto& [id, r] : dir.records()) {
    std::set<std::string> conflicted;
    AddConflicts(r, dir, org_of, schema, &out, &conflicted);
    if (r.IsDeleted()) continue;
    if (r.kind() == "organization") AddVetting(r, dir, org_of, schema, &out);
    AddModerated(r, dir, org_of, schema, conflicted, &out);
  }
  for (const RefusedPush& p : refusals) {
    if (!p.settled) AddRefusal(p, dir, &out);
  }
  std::stable_sort(out.begin(), out.end(), [](const ReviewItem& a, const ReviewItem& b) {
    return a.who.at_ms != b.who.at_ms ? a.who.at_ms < b.who.at_ms : a.id < b.id;
  });
  return out;
}

namespace {
std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}
}  // namespace

bool ReviewFilter::Matches(const ReviewItem& item, uint64_t now_ms) const {
  if (kind && item.kind != *kind) return false;
  if (!org.empty() && item.org != org && Lower(item.org_name).find(Lower(org)) == std::string::npos)
    return false;
  if (!field.empty()) {
    // A refused push lists its fields joined by commas.
    std::string list = "," + item.field + ",";
    if (list.find("," + field + ",") == std::string::npos) return false;
  }
  if (min_age_ms > 0 && (item.who.at_ms > now_ms || now_ms - item.who.at_ms < min_age_ms))
    return false;
  if (!q.empty()) {
    std::string needle = Lower(q);
    bool hit = false;
    for (const std::string* s :
         {&item.record, &item.record_name, &item.org, &item.org_name, &item.id}) {
      hit = hit || Lower(*s).find(needle) != std::string::npos;
    }
    if (!hit) return false;
  }
  return true;
}

Result<Value> ValueForField(const FieldSchema& schema, const std::string& kind,
                            const std::string& field, const json& v) {
  const FieldSpec* spec = schema.Field(kind, field);
  std::string where = kind + "." + field;
  if (!spec) return Status::InvalidArgument(where + ": unknown field");
  if (v.is_null()) return Value(Null{});
  switch (spec->type) {
    case FieldType::kText:
    case FieldType::kEnum:
      if (v.is_string()) return Value(v.get<std::string>());
      break;
    case FieldType::kInt:
      if (v.is_number_integer()) return Value(v.get<int64_t>());
      if (v.is_string()) {
        const std::string& s = v.get_ref<const std::string&>();
        size_t digits = s.size() - (!s.empty() && s[0] == '-' ? 1 : 0);
        if (digits > 0 && digits <= 18 &&
            std::all_of(s.end() - static_cast<long>(digits), s.end(), ::isdigit)) {
          return Value(static_cast<int64_t>(std::stoll(s)));
        }
      }
      break;
    case FieldType::kBool:
      if (v.is_boolean()) return Value(v.get<bool>());
      if (v == "true") return Value(true);
      if (v == "false") return Value(false);
      break;
    case FieldType::kNumber:
      if (std::optional<std::string> text = NumberText(v)) return Value(*text);
      break;
    case FieldType::kTextSet:
      return Status::InvalidArgument(where + ": is a set; sets never conflict, edit the record");
  }
  return Status::InvalidArgument(where + ": must be " + FieldTypeName(spec->type));
}

namespace {

Status CheckReason(const FieldSchema& schema, const std::string& kind, const std::string& field,
                   const std::string& reason) {
  bool blank =
      std::all_of(reason.begin(), reason.end(), [](unsigned char c) { return std::isspace(c); });
  if (blank) return Status::InvalidArgument("reason: a rejection needs a reason for the partner");
  Status s = schema.ValidateValue(kind, field, Value(reason));
  if (!s.ok()) return Status::InvalidArgument("reason: " + s.message());
  return Status::Ok();
}

Status NotAllowed(const ReviewItem& item, ReviewAction a) {
  std::string allowed;
  for (const auto& x : item.actions) allowed += (allowed.empty() ? "" : ", ") + x;
  return Status::InvalidArgument(std::string("a ") + ReviewKindName(item.kind) +
                                 " item cannot be " +
                                 (a == ReviewAction::kApprove  ? "approved"
                                  : a == ReviewAction::kReject ? "rejected"
                                                               : "resolved") +
                                 " (allowed: " + allowed + ")");
}

}  // namespace

Result<std::vector<Record>> PlanDecision(const ReviewItem& item, const Decision& d,
                                         const Directory& dir, const FieldSchema& schema,
                                         ReplicaId replica, Hlc stamp) {
  if (std::find(item.actions.begin(), item.actions.end(), ReviewActionName(d.action)) ==
      item.actions.end()) {
    return NotAllowed(item, d.action);
  }
  std::vector<RecordEdit> edits;
  const Record* r = item.record.empty() ? nullptr : dir.Find(item.record);
  if (item.kind != ReviewKind::kRefusedPush && !r) {
    return Status::NotFound("record " + item.record + " is gone");
  }
  switch (item.kind) {
    case ReviewKind::kModeratedChange: {
      RecordEdit e{r->id(), r->kind(), {}, {}, false, false};
      const std::string& f = item.field;
      std::optional<Value> proposed = r->Displayed(f);
      std::optional<Value> published = Normalized(r->Displayed(PublishedFieldName(f)));
      if (d.action == ReviewAction::kApprove) {
        e.values[PublishedFieldName(f)] = proposed.value_or(Value(Null{}));
      } else if (d.action == ReviewAction::kReject) {
        RETURN_IF_ERROR(CheckReason(schema, r->kind(), RejectionReasonFieldName(f), d.reason));
        e.values[f] = published.value_or(Value(Null{}));
        e.values[RejectedFieldName(f)] = proposed.value_or(Value(Null{}));
        e.values[RejectionReasonFieldName(f)] = Value(d.reason);
      } else {
        ASSIGN_OR_RETURN(Value v, ValueForField(schema, r->kind(), f, d.value));
        e.values[f] = v;
        e.values[PublishedFieldName(f)] = v;
      }
      if (d.action != ReviewAction::kReject) {
        for (const std::string& note : {RejectedFieldName(f), RejectionReasonFieldName(f)}) {
          if (Normalized(r->Displayed(note))) e.values[note] = Value(Null{});
        }
      }
      edits.push_back(std::move(e));
      break;
    }
    case ReviewKind::kNewOrganization: {
      RecordEdit e{r->id(), r->kind(), {}, {}, false, false};
      if (d.action == ReviewAction::kApprove) {
        e.values[kApprovedField] = Value(true);
        if (Normalized(r->Displayed(kVettingNoteField)))
          e.values[kVettingNoteField] = Value(Null{});
      } else {
        RETURN_IF_ERROR(CheckReason(schema, r->kind(), kVettingNoteField, d.reason));
        e.values[kApprovedField] = Value(false);
        e.values[kVettingNoteField] = Value(d.reason);
      }
      edits.push_back(std::move(e));
      break;
    }
    case ReviewKind::kConflict: {
      if (item.field.empty()) {  // edited while deleted
        std::string what = d.value.is_string() ? d.value.get<std::string>() : "";
        if (what == "delete") return std::vector<Record>{r->DeleteDelta(replica, stamp)};
        if (what != "restore") {
          return Status::InvalidArgument(
              "value: a record edited while deleted is resolved with \"restore\" (keep it and "
              "the edits) or \"delete\" (delete it again, edits included)");
        }
        edits.push_back(RecordEdit{r->id(), r->kind(), {}, {}, false, true});
        break;
      }
      Value v;
      if (d.action == ReviewAction::kApprove) {
        v = r->Displayed(item.field).value_or(Value(Null{}));
      } else {
        ASSIGN_OR_RETURN(v, ValueForField(schema, r->kind(), item.field, d.value));
      }
      RecordEdit e{r->id(), r->kind(), {}, {}, false, false};
      e.values[item.field] = v;
      const FieldSpec* spec = schema.Field(r->kind(), item.field);
      if (spec && spec->moderated) e.values[PublishedFieldName(item.field)] = v;
      edits.push_back(std::move(e));
      break;
    }
    case ReviewKind::kRefusedPush: {
      if (d.action == ReviewAction::kReject) return std::vector<Record>{};
      // Apply what the partner tried, on the maintainer's authority (still schema-checked).
      std::map<std::string, RecordEdit> by_record;
      for (const json& c : item.after) {
        std::string id = c.value("record", ""), kind = c.value("kind", "");
        std::string field = c.value("field", "");
        if (field == kDeletedField) {
          return Status::InvalidArgument(
              "a refused delete cannot be applied from review; "
              "delete the record instead");
        }
        RecordEdit& e =
            by_record.try_emplace(id, RecordEdit{id, kind, {}, {}, false, false}).first->second;
        if (const Record* cur = dir.Find(id)) e.kind = cur->kind();
        if (c["value"].is_array()) {
          for (const json& el : c["value"]) e.sets[field].push_back(el.get<std::string>());
        } else {
          ASSIGN_OR_RETURN(Value v, ValueForField(schema, e.kind, field, c["value"]));
          e.values[field] = std::move(v);
        }
      }
      for (auto& [id, e] : by_record) edits.push_back(std::move(e));
      break;
    }
  }
  Directory work;
  std::vector<Record> out;
  for (const RecordEdit& e : edits) {
    const Record* base = work.Find(e.id) ? work.Find(e.id) : dir.Find(e.id);
    ASSIGN_OR_RETURN(PlannedEdit plan, PlanEdit(schema, base, e, replica, stamp));
    if (plan.empty()) continue;
    Record next = base ? *base : Record(e.id, e.kind);
    next.Join(plan.delta);
    work.Replace(next);
    out.push_back(std::move(plan.delta));
  }
  return out;
}

RecordEdit SelfPublication(const Record& delta, const Record& after, ReplicaId author,
                           const FieldSchema& schema) {
  RecordEdit e{after.id(), after.kind(), {}, {}, false, false};
  if (after.IsDeleted()) return e;
  for (const auto& [name, f] : delta.fields()) {
    const FieldSpec* spec = schema.Field(after.kind(), name);
    if (!spec || !spec->moderated || !std::holds_alternative<MvRegister>(f)) continue;
    const MvRegister* reg = after.Register(name);
    if (!reg || reg->size() != 1) continue;  // a conflict waits for review
    auto shown = reg->Displayed();
    if (shown->first.replica != author) continue;  // only what the maintainer wrote
    if (Normalized(shown->second.value) == Normalized(after.Displayed(PublishedFieldName(name)))) {
      continue;
    }
    e.values[PublishedFieldName(name)] = shown->second.value;
  }
  if (after.kind() == "organization" && delta.fields().count(kOwnerField) &&
      !after.Register(kApprovedField)) {
    e.values[kApprovedField] = Value(true);
  }
  return e;
}

json ItemJson(const ReviewItem& it, uint64_t now_ms) {
  auto write = [](const ReviewWrite& w) {
    return json{{"value", w.value},
                {"org", w.org.empty() ? json(nullptr) : json(w.org)},
                {"replica", ReplicaHex(w.replica)},
                {"at", w.at_ms ? json(IsoTime(w.at_ms)) : json(nullptr)}};
  };
  json sibs = json::array();
  for (const ReviewWrite& w : it.siblings) sibs.push_back(write(w));
  json who = write(it.who);
  who.erase("value");
  return json{{"id", it.id},
              {"kind", ReviewKindName(it.kind)},
              {"detail", it.detail},
              {"org", it.org},
              {"org_name", it.org_name},
              {"record", it.record},
              {"record_kind", it.record_kind},
              {"record_name", it.record_name},
              {"field", it.field},
              {"before", it.before},
              {"after", it.after},
              {"siblings", sibs},
              {"who", who},
              {"when", it.who.at_ms ? json(IsoTime(it.who.at_ms)) : json(nullptr)},
              {"age_s", it.who.at_ms && now_ms > it.who.at_ms ? (now_ms - it.who.at_ms) / 1000 : 0},
              {"actions", it.actions}};
}

}  // namespace sb
