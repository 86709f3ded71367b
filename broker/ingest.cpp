#include "broker/ingest.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "base/utf8.h"
#include "conflict/codec.h"
#include "conflict/replica.h"
#include "conflict/views.h"

namespace sb {

namespace {

// Every dot the record delta brings as an entry (register entries and set element adds).
std::set<Dot> NewDots(const Record& r) {
  std::set<Dot> out;
  for (const auto& [name, f] : r.fields()) {
    if (const auto* reg = std::get_if<MvRegister>(&f)) {
      for (const auto& [dot, e] : reg->entries()) out.insert(dot);
    } else {
      for (const auto& [el, dots] : std::get<AwSet>(f).raw()) out.insert(dots.begin(), dots.end());
    }
  }
  return out;
}

std::set<Dot> FieldDots(const Field& f) {
  std::set<Dot> out;
  if (const auto* reg = std::get_if<MvRegister>(&f)) {
    for (const auto& [dot, e] : reg->entries()) out.insert(dot);
  } else {
    for (const auto& [el, dots] : std::get<AwSet>(f).raw()) out.insert(dots.begin(), dots.end());
  }
  return out;
}

// The displayed text of `field` in the delta itself, if it writes one.
std::string DeltaText(const Record& r, const char* field) {
  auto v = r.Displayed(field);
  return v && std::holds_alternative<std::string>(*v) ? std::get<std::string>(*v) : "";
}

// What kind of contact detail `text` holds ("a phone number", "a web address", "an email
// address"), or "" for none. Heuristic, on purpose generous: a forged hotline number in a
// description must not reach a victim unreviewed, and a false alarm only asks a maintainer.
// A linear scan (no std::regex: its backtracking recurses per character on hostile input).
std::string ContactDetailIn(std::string_view text) {
  auto lower = [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  std::string t(text.size(), '\0');
  std::transform(text.begin(), text.end(), t.begin(), lower);
  // An email: local@domain.tld.
  for (size_t at = t.find('@'); at != std::string::npos; at = t.find('@', at + 1)) {
    if (at == 0 || !(alnum(t[at - 1]) || t[at - 1] == '.' || t[at - 1] == '_')) continue;
    size_t end = at + 1;
    while (end < t.size() && (alnum(t[end]) || t[end] == '.' || t[end] == '-')) ++end;
    size_t dot = t.rfind('.', end);
    if (dot != std::string::npos && dot > at + 1 && end - dot > 2) return "an email address";
  }
  // A web address: a scheme, "www.", or a name ending in a common top-level domain.
  if (t.find("http://") != std::string::npos || t.find("https://") != std::string::npos ||
      t.find("www.") != std::string::npos) {
    return "a web address";
  }
  static const char* kTlds[] = {"com", "org", "net", "info", "io", "co", "us",
                                "uk",  "gov", "edu", "ly",   "me", "app"};
  for (size_t dot = t.find('.'); dot != std::string::npos; dot = t.find('.', dot + 1)) {
    if (dot == 0 || !alnum(t[dot - 1])) continue;
    size_t end = dot + 1;
    while (end < t.size() && alnum(t[end])) ++end;
    std::string_view tld(t.data() + dot + 1, end - dot - 1);
    for (const char* known : kTlds) {
      if (tld == known) return "a web address";
    }
  }
  // A phone number: a run of digits and separators with a "+" and 7 digits or more, or 10
  // digits or more ("+44 1234 234567", "(415) 555-0199", "1-800-555-0199").
  auto phone_char = [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || c == ' ' || c == '(' || c == ')' ||
           c == '.' || c == '-' || c == '+' || c == '/';
  };
  for (size_t i = 0; i < t.size();) {
    if (!phone_char(t[i])) {
      ++i;
      continue;
    }
    size_t digits = 0;
    bool plus = false;
    for (; i < t.size() && phone_char(t[i]); ++i) {
      if (std::isdigit(static_cast<unsigned char>(t[i]))) ++digits;
      if (t[i] == '+' && digits == 0) plus = true;
    }
    if ((plus && digits >= 7) || digits >= 10) return "a phone number";
  }
  return "";
}

// Whether `f` (a field of a delta) writes nothing `current` does not hold already: each of
// its entries is an equal entry of the same field there (dots name writes: no change).
bool AlreadyHeld(const Field& f, const Record* current, const std::string& name) {
  if (!current) return false;
  auto it = current->fields().find(name);
  if (it == current->fields().end() || it->second.index() != f.index()) return false;
  if (const auto* reg = std::get_if<MvRegister>(&f)) {
    const auto& held = std::get<MvRegister>(it->second).entries();
    for (const auto& [dot, e] : reg->entries()) {
      auto h = held.find(dot);
      if (h == held.end() || !(h->second == e)) return false;
    }
    return true;
  }
  const auto& held = std::get<AwSet>(it->second).raw();
  for (const auto& [element, dots] : std::get<AwSet>(f).raw()) {
    auto h = held.find(element);
    if (h == held.end()) return false;
    for (const Dot& dot : dots) {
      if (!h->second.contains(dot)) return false;
    }
  }
  return true;
}

// Whether the delta `d` carries `dot` as an entry of field `name`.
bool CarriesDot(const Record& d, const std::string& name, const Dot& dot) {
  auto it = d.fields().find(name);
  return it != d.fields().end() && FieldDots(it->second).count(dot) > 0;
}

bool WritesDelete(const Record& r) {
  auto v = r.Displayed(kDeletedField);
  return v && *v == Value(true);
}

Status CheckRecord(const Record& d, const Record* current, const Author& who,
                   const std::function<const Record*(const std::string&)>& lookup,
                   const Roster& roster) {
  const FieldSchema& schema = FieldSchema::Hsds();
  const std::string rid = "record " + d.id() + ": ";
  // A repeat of something the broker already holds (a push whose ack was lost) changes
  // nothing: acknowledge it rather than judge it again against the state it created.
  if (current && current->context().Includes(d.context())) {
    Record joined = *current;
    joined.Join(d);
    if (joined == *current) return Status::Ok();
  }
  // Dots: new entries are the author's own; the context claims nothing unseen of others.
  for (const Dot& dot : NewDots(d)) {
    if (dot.replica != who.replica) {
      return Status::PermissionDenied(rid + "carries a write attributed to another replica");
    }
  }
  FlatMap<ReplicaId, uint64_t> others_vector;
  FlatSet<Dot> others_cloud;
  for (const auto& [replica, n] : d.context().vector()) {
    if (replica != who.replica) others_vector[replica] = n;
  }
  for (const Dot& dot : d.context().cloud()) {
    if (dot.replica != who.replica) others_cloud.insert(dot);
  }
  CausalContext others =
      CausalContext::FromParts(std::move(others_vector), std::move(others_cloud));
  if (!others.empty() && (!current || !current->context().Includes(others))) {
    return Status::PermissionDenied(rid + "claims to have seen writes the broker has not");
  }
  if (who.role == Role::kMaintainer) return Status::Ok();

  // Partners: ownership.
  if (current) {
    std::string owner = current->Owner();
    if (owner != who.org) {
      return Status::PermissionDenied(
          rid + "belongs to " +
          (owner.empty() ? std::string("no organization") : "organization " + owner) +
          "; only its owner or a maintainer may change it");
    }
  } else if (DeltaText(d, kOwnerField) != who.org) {
    return Status::PermissionDenied(rid +
                                    "a new record must belong to its creator's "
                                    "organization (owner " +
                                    who.org + ")");
  } else if (d.kind() == "organization" && d.id() != who.org) {
    // An organization's record id is its enrolled id: a partner lists itself, and nobody
    // else (squatting an id first would lock the real organization out of its own listing).
    return Status::PermissionDenied(
        rid +
        "a partner creates only its own organization record, whose id is its "
        "enrolled id (" +
        who.org + ")");
  } else if (d.id() != who.org && roster.Find(d.id())) {
    return Status::PermissionDenied(rid + "that id is organization " + d.id() +
                                    "'s enrolled id; only its own organization record has it");
  }
  // Maintainer-only fields: not written, and not erased through the context (a delete may
  // supersede them along with everything else).
  bool is_delete = WritesDelete(d);
  for (const auto& [name, f] : d.fields()) {
    const FieldSpec* spec = schema.Field(d.kind(), name);
    if (!spec || !spec->maintainer_only) continue;
    if (name == kOwnerField && !current && DeltaText(d, kOwnerField) == who.org) continue;
    if (AlreadyHeld(f, current, name)) continue;
    return Status::PermissionDenied(rid + d.kind() + "." + name +
                                    " may be changed only by a maintainer");
  }
  if (current && !is_delete) {
    for (const auto& [name, f] : current->fields()) {
      const FieldSpec* spec = schema.Field(current->kind(), name);
      if (!spec || !spec->maintainer_only) continue;
      for (const Dot& dot : FieldDots(f)) {
        // A dot the delta carries as its own entry is kept, not superseded (an agent
        // re-sending what it wrote to a restored broker, store/backup.h).
        if (d.context().Contains(dot) && !CarriesDot(d, name, dot)) {
          return Status::PermissionDenied(rid + current->kind() + "." + name +
                                          " may be changed only by a maintainer");
        }
      }
    }
  }
  // Contact details in free text are moderated like the contact fields: such a change is
  // refused here and kept in the review queue (refused_push), where a maintainer applies it
  // or dismisses it; nothing of it reaches other partners before.
  for (const auto& [name, f] : d.fields()) {
    const FieldSpec* spec = schema.Field(d.kind(), name);
    if (!spec || spec->type != FieldType::kText || spec->pattern != Pattern::kNone ||
        spec->moderated || spec->maintainer_only) {
      continue;
    }
    std::string text = DeltaText(d, name.c_str());
    if (std::string what = ContactDetailIn(text); !what.empty()) {
      return Status::PermissionDenied(
          rid + d.kind() + "." + name + " contains " + what +
          ": contact details in free text wait for a maintainer (the change is in the "
          "review queue); phone numbers, web addresses and emails belong in their own fields");
    }
  }
  // Links to the organization must name the partner's own.
  std::string org_link = DeltaText(d, "organization_id");
  if (!org_link.empty() && org_link != who.org) {
    return Status::PermissionDenied(rid + "organization_id must be the partner's own (" + who.org +
                                    ")");
  }
  // And links to other records must name the partner's own records, so nothing can be
  // attached to another organization's listing.
  // Which fields are such links is in the field table (FieldSpec::owned_link; schemas/HSDS.md
  // lists them per kind); a parent organization or a shared taxonomy term may be anyone's.
  for (const auto& [name, f] : d.fields()) {
    const FieldSpec* spec = schema.Field(d.kind(), name);
    if (!spec || !spec->owned_link || name == "organization_id") continue;
    std::string target = DeltaText(d, name.c_str());
    if (target.empty()) continue;
    const Record* t = lookup(target);
    if (t && t->Owner() != who.org) {
      return Status::PermissionDenied(rid + name + " names a record of another organization");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Delta> ValidatePushImpl(const proto::SignedDelta& sd, const Author& who,
                               const std::function<const Record*(const std::string&)>& lookup,
                               const Roster& roster, const HlcClock& clock, uint64_t now_ms,
                               const IngestLimits& limits) {
  if (sd.author != who.org) {
    return Status::PermissionDenied("the delta names author '" + Printable(sd.author, 64) +
                                    "' but the connection is authenticated as " + who.org);
  }
  size_t limit =
      who.role == Role::kMaintainer ? limits.maintainer_delta_bytes : limits.partner_delta_bytes;
  if (sd.delta.size() > limit) {
    return Status::ResourceExhausted("delta of " + std::to_string(sd.delta.size()) +
                                     " bytes exceeds the limit of " + std::to_string(limit));
  }
  std::optional<Member> member = roster.Find(who.org);
  if (!member || member->revoked) return Status::PermissionDenied(who.org + " is not enrolled");
  if (sd.signer != who.org ||
      !VerifySignature(member->identity.sign_public, sd.delta, sd.signature)) {
    return Status::PermissionDenied("the signature does not verify with " + who.org +
                                    "'s signing key");
  }
  ASSIGN_OR_RETURN(Delta delta, DecodeDelta(sd.delta));
  if (delta.author != who.replica) {
    return Status::PermissionDenied("the delta's replica is not this session's replica");
  }
  if (delta.records.empty()) return Status::InvalidArgument("the delta holds no records");
  if (!clock.CheckSkew(delta.stamp, now_ms).ok()) {
    // Named in human terms for the agent's user (its /v1/rejections and log).
    return Status::InvalidArgument(
        ClockAheadMessage(delta.stamp.millis() - now_ms, clock.max_skew_ms()));
  }
  // Schema checks, against the current kinds of the records.
  Directory kinds;
  for (const Record& r : delta.records) {
    if (const Record* cur = lookup(r.id())) kinds.Join(Record(cur->id(), cur->kind()));
  }
  RETURN_IF_ERROR(ValidateDelta(delta, FieldSchema::Hsds(), kinds));
  std::set<std::string> seen;
  for (const Record& r : delta.records) {
    if (!seen.insert(r.id()).second) {
      return Status::InvalidArgument("record " + r.id() + " appears twice in one delta");
    }
    RETURN_IF_ERROR(CheckRecord(r, lookup(r.id()), who, lookup, roster));
  }
  return delta;
}

std::string NotSavedReason(const Status& store_error, const std::string& what) {
  if (store_error.code() == Code::kNoSpace) {
    return "the broker's disk is full, so it did not save " + what +
           "; it keeps it waiting on this side and sends it again once the broker's operator "
           "has freed space (" +
           store_error.message() + ")";
  }
  if (store_error.code() == Code::kIoError) {
    return "the broker's disk failed to write (an I/O error), so it did not save " + what +
           "; it is sent again later (" + store_error.message() + ")";
  }
  return "the broker could not save " + what + "; retry";
}

bool Visible(Audience audience, bool is_owner, Role role) {
  return CanRead(audience, is_owner, role == Role::kMaintainer);
}

Delta FilterFor(const Delta& delta, const std::string& org, Role role,
                const std::function<const Record*(const std::string&)>& lookup, bool* filtered) {
  const FieldSchema& schema = FieldSchema::Hsds();
  const Reader reader{org, role == Role::kMaintainer};
  Delta out{delta.author, delta.stamp, {}};
  *filtered = false;
  for (const Record& r : delta.records) {
    // Judged on the record delta and on the broker's current state of the record.
    Record view = AudienceView(r, reader, schema, lookup(r.id()));
    if (view.fields().size() != r.fields().size()) *filtered = true;
    if (view.fields().empty() && !r.fields().empty()) continue;  // nothing of it is visible
    out.records.push_back(std::move(view));
  }
  return out;
}

}  // namespace sb
