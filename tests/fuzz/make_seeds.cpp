// Writes the fuzz targets' seed corpus from real encodings: valid wire messages of every kind,
// deltas, directory states, records, merge inputs, HSDS documents, referral payloads, API
// bodies and identity.pub files. Run from the source root after changing a format:
//
//   build-san/tests/fuzz/make_seeds tests/fuzz/corpus
//
// and commit the result. Each target's seeds go to corpus/<target>/seed-NN (replaced).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "agents/hsds_json.h"
#include "base/json.h"
#include "conflict/codec.h"
#include "conflict/replica.h"
#include "crypto/identity.h"
#include "tests/fuzz/fuzz_util.h"
#include "transport/protocol.h"

namespace fs = std::filesystem;
using namespace sb;
using namespace sb::proto;

namespace {

const char kA[] = "00000000-0000-4000-8000-000000000001";
const char kB[] = "00000000-0000-4000-8000-000000000002";
const char kC[] = "00000000-0000-4000-8000-000000000003";
const char kRef[] = "6f1c2a3b-4d5e-4f60-8172-8394a5b6c7d8";
constexpr uint64_t kT0 = fuzz::kSeedTimeMs;

class Seeds {
 public:
  explicit Seeds(fs::path root) : root_(std::move(root)) {}
  void Add(const std::string& target, const std::string& bytes) {
    fs::path dir = root_ / target;
    if (!started_.count(target)) {
      fs::remove_all(dir);
      fs::create_directories(dir);
      started_[target] = 0;
    }
    char name[32];
    std::snprintf(name, sizeof name, "seed-%02d", started_[target]++);
    std::ofstream(dir / name, std::ios::binary) << bytes;
  }
  void Summary() const {
    for (const auto& [t, n] : started_) std::cout << t << ": " << n << " seeds\n";
  }

 private:
  fs::path root_;
  std::map<std::string, int> started_;
};

template <typename T>
T Must(Result<T> r) {
  if (!r.ok()) {
    std::cerr << "make_seeds: " << r.status().ToString() << "\n";
    std::exit(1);
  }
  return std::move(r).value();
}

void Must(const Status& s) {
  if (!s.ok()) {
    std::cerr << "make_seeds: " << s.ToString() << "\n";
    std::exit(1);
  }
}

Value Text(const char* s) {
  return Value(std::string(s));
}

// Two replicas with concurrent edits (siblings, sets, a deletion, a context cloud), as in
// tests/conflict/codec_test.cpp; the deltas they exchanged.
struct Replicas {
  const FieldSchema& schema = FieldSchema::Hsds();
  Replica a{1, schema}, b{2, schema};
  std::vector<Delta> deltas;

  Replicas() {
    Keep(a.Set(kC, "organization", {{"name", Text("Casa Luz")}, {"email", Text("hi@casaluz.org")}},
               kT0));
    Keep(a.Set(kA, "service",
               {{"name", Text("Casa \"Luz\" — refugio")},
                {"available_24_7", Value(true)},
                {"capacity_beds_available", Value(int64_t{12})},
                {"description", Value(Null{})}},
               kT0));
    Keep(b.Set(kA, "service", {{"name", Text("Casa Luz")}}, kT0));
    Keep(a.AddElement(kA, "categories", "legal", kT0 + 1));
    Keep(b.Set(kB, "phone", {{"number", Text("+14155550123")}, {"type", Text("voice")}}, kT0 + 1));
    Keep(b.Delete(kB, kT0 + 2));
    Keep(b.AddElement(kA, "categories", "medical", kT0 + 3));
    Must(a.Apply(deltas.back(), kT0 + 3));
  }
  void Keep(Result<Delta> d) { deltas.push_back(Must(std::move(d))); }
};

SignedDelta Signed1(const std::string& delta, const std::string& author) {
  return SignedDelta{delta, author, author, std::string(64, 's')};
}

ReferralBody Referral() {
  ReferralBody b;
  b.id = kRef;
  b.sender = "org-a";
  b.recipient = "org-b";
  b.service = kA;
  b.urgency = "urgent";
  b.created_ms = kT0;
  b.expires_ms = kT0 + 14ull * 24 * 3600 * 1000;
  b.consent_scope = "Share name and phone with the shelter.\nVerbal consent.";
  b.consent_at_ms = kT0 - 1000;
  b.consent_by = "worker-7";
  b.nonce = std::string(24, 'n');
  b.ciphertext = std::string(120, 'c');
  b.key_nonce = std::string(24, 'k');
  b.sealed_key = std::string(48, 'K');
  return b;
}

TransitionBody Transition(const char* action, const char* reason = "") {
  return TransitionBody{kRef, action, "org-b", kT0 + 5000, reason};
}

proto::Signed SignedBody(const Message& m) {
  return proto::Signed{EncodeEnvelope(m), std::string(64, 'g')};
}

void Messages(Seeds& s, const Replicas& r) {
  std::vector<std::string> enc;
  for (const Delta& d : r.deltas) enc.push_back(EncodeDelta(d));
  std::string state = EncodeDelta(r.a.state().AsDelta(1, Hlc{kT0 << 16}));

  auto add = [&](const std::string& target, const Message& m) {
    std::string bytes = EncodeEnvelope(m);
    s.Add(target, bytes);
    s.Add("envelope", bytes);
  };
  add("handshake", Hello{kProtocolVersion, 7, 0, 64, 0, 1 << 20, false});
  add("handshake", Hello{kProtocolVersion, 7, 1234, 16, 9, 0, true});
  add("handshake", Welcome{kProtocolVersion, "org-a", Role::kPartner, 1234, false, true});
  add("handshake", Refusal{RefusalCode::kRevoked, "your key is not enrolled;\task a maintainer"});
  add("handshake", Credit{32, 1200, false, 0});
  add("handshake", Credit{0, 1100, true, 2});

  Push push{41, {}};
  for (size_t i = 0; i < enc.size(); ++i)
    push.items.push_back(PushItem{i + 1, Signed1(enc[i], "org-a")});
  add("push", push);
  add("push", Push{42, {PushItem{9, Signed1(enc[0], "org-a")}}});
  add("push", Push{43, {PushItem{10, SignedDelta{"", "org-a", "org-a", ""}}}});

  add("push_ack", PushAck{41,
                          {PushResult{1, true, "", 1001, ""},
                           PushResult{2, false, "field name: must be text", 0, enc[1]}}});
  add("push_ack", PushAck{42, {PushResult{9, true, "", 1002, ""}}});

  Updates up;
  for (size_t i = 0; i < enc.size(); ++i)
    up.entries.push_back(LogEntry{1000 + i, Signed1(enc[i], i % 2 ? "org-b" : "org-a")});
  up.head = 1000 + enc.size();
  add("updates", up);
  add("updates",
      Updates{{LogEntry{5, SignedDelta{enc[2], "org-c", "broker", std::string(64, 'b')}}}, 5});

  add("snapshot_chunk", SnapshotChunk{9, 0, false, 1001, state, std::string(64, 'k')});
  add("snapshot_chunk", SnapshotChunk{9, 1, true, 1001, enc[0], std::string(64, 'k')});

  Roster roster;
  roster.entries.push_back(
      RosterEntry{"org-a", Role::kPartner, std::string(32, 'S'), std::string(32, 'B'), false});
  roster.entries.push_back(RosterEntry{"maint", Role::kMaintainer, std::string(32, '\0'),
                                       std::string(32, '\xff'), true});
  add("roster", roster);
  add("roster", Roster{});

  ReferralBody body = Referral();
  add("referral_post", ReferralPost{1, SignedBody(body), {}});
  add("referral_post", ReferralPost{2, {}, SignedBody(Transition("accept"))});
  add("referral_post", ReferralPost{3, {}, SignedBody(Transition("decline", "no beds tonight"))});

  add("referral_post_ack", ReferralPostAck{1, true, PostRefusalCode::kNone, ""});
  add("referral_post_ack",
      ReferralPostAck{2, false, PostRefusalCode::kConsent,
                      "referral.consent: a referral needs the client's consent"});

  add("referral_update",
      ReferralUpdate{3, kRef, SignedBody(body), {SignedBody(Transition("deliver"))}});
  add("referral_update",
      ReferralUpdate{
          4, kRef, {}, {SignedBody(Transition("accept")), SignedBody(Transition("complete"))}});

  add("referral_body", body);
  ReferralBody emergency = body;
  emergency.urgency = "emergency";
  emergency.service = "";
  add("referral_body", emergency);

  add("transition_body", Transition("accept"));
  add("transition_body", Transition("decline", "the client moved away"));
  add("transition_body", Transition("expire"));
}

void Codec(Seeds& s, const Replicas& r) {
  for (const Delta& d : r.deltas) s.Add("delta", EncodeDelta(d));
  s.Add("delta", EncodeDelta(r.b.state().AsDelta(2, Hlc{(kT0 + 9) << 16})));
  // Format version 1 (still decoded: stored data and older peers) and the batch form.
  for (const Delta& d : r.deltas) s.Add("delta", EncodeDeltaV1(d));
  s.Add("delta", EncodeDeltaBatch(r.deltas));
  s.Add("directory", EncodeDirectory(r.a.state()));
  s.Add("directory", EncodeDirectory(r.b.state()));
  s.Add("directory", EncodeDirectory(Directory{}));

  std::vector<std::string> records;
  for (const Replica* rep : {&r.a, &r.b}) {
    for (const auto& [id, rec] : rep->state().records()) records.push_back(EncodeRecord(rec));
  }
  for (const Delta& d : r.deltas) {
    for (const Record& rec : d.records) records.push_back(EncodeRecord(rec));
  }
  for (const std::string& rec : records) s.Add("record", rec);

  // record_merge: flags, then pieces (the existing value first when bit 0 is set).
  auto merge = [&](uint8_t flags, std::vector<std::string> pieces) {
    std::string in(1, static_cast<char>(flags));
    for (const std::string& p : pieces) fuzz::AppendPiece(&in, p);
    s.Add("record_merge", in);
  };
  const Record& a_service = *r.a.state().Find(kA);
  const Record& b_service = *r.b.state().Find(kA);
  merge(1, {EncodeRecord(a_service), EncodeRecord(b_service)});
  merge(0, {EncodeRecord(b_service), EncodeRecord(a_service), EncodeRecord(b_service)});
  merge(3, {EncodeRecord(*r.b.state().Find(kB)), EncodeRecord(r.deltas[4].records[0]),
            EncodeRecord(r.deltas[5].records[0])});
  merge(0, {EncodeRecord(r.deltas[1].records[0])});
}

void Json(Seeds& s, const Replicas& r) {
  // HSDS documents: the export of real states, and small hand-written ones.
  s.Add("hsds", DumpJson(ExportHsds(r.a.state(), r.a.schema()), 2));
  s.Add("hsds", DumpJson(ExportHsds(r.b.state(), r.b.schema())));
  s.Add(
      "hsds",
      R"({"hsds_version":"3.0","organizations":[{"id":"00000000-0000-4000-8000-00000000000a","name":"Harbor Food Bank","description":"Groceries on weekdays.","services":[{"id":"00000000-0000-4000-8000-00000000000b","name":"Pantry","status":"active","categories":["food"],"phones":[{"id":"00000000-0000-4000-8000-00000000000c","number":"+14155550100","type":"voice"}],"schedules":[{"id":"00000000-0000-4000-8000-00000000000d","freq":"WEEKLY","byday":["MO","WE"],"opens_at":"09:00","closes_at":"17:00"}]}],"locations":[{"id":"00000000-0000-4000-8000-00000000000e","name":"Pier 3","location_type":"physical","city":"Oakland","address_confidential":false}]}]})");
  s.Add(
      "hsds",
      R"({"hsds_version":"3.0","organizations":[],"services":[{"id":"00000000-0000-4000-8000-0000000000f1","name":"Hotline","available_24_7":true,"capacity_beds_total":40}],"phones":[],"languages":[{"id":"00000000-0000-4000-8000-0000000000f2","name":"Español","code":"es"}]})");
  s.Add("hsds", R"({"hsds_version":"3.0","organizations":[{"id":"bad","name":3}]})");

  s.Add(
      "referral_payload",
      R"({"alias":"J. D.","contact":{"phone":"+14155550199","best_time":"evenings"},"needs":["bed","meal"],"notes":"Prefers Spanish.\nHas a dog."})");
  s.Add("referral_payload", R"({"alias":"Ana"})");
  s.Add(
      "referral_payload",
      R"({"alias":"K","history":[{"at":"2026-01-01","what":"intake"},{"at":"2026-01-02","what":"follow-up","by":{"org":"org-a"}}],"age":34,"verified":true,"score":0.5,"none":null})");
  s.Add("referral_payload", R"({"contact":{}})");

  // API bodies: PUT /v1/records/ID, POST /v1/referrals, review and roster bodies.
  s.Add(
      "api_json",
      R"({"kind":"service","fields":{"name":"Night shelter","available_24_7":true,"capacity_beds_available":4,"categories":["shelter","food"],"description":null}})");
  s.Add("api_json", R"({"fields":{"number":"+14155550123","type":"cell"},"kind":"phone"})");
  s.Add("api_json",
        R"({"kind":"schedule","fields":{"freq":"WEEKLY","byday":["SA","SU"],"opens_at":"08:00"}})");
  s.Add(
      "api_json",
      R"({"to":"org-b","service":"00000000-0000-4000-8000-000000000001","urgency":"urgent","expires_in_hours":48,"consent":{"scope":"share contact","by":"worker-7","at_ms":1700000000000},"payload":{"alias":"J.","notes":"ok"}})");
  s.Add("api_json", R"({"decision":"approve","note":"checked by phone"})");
  s.Add(
      "api_json",
      R"({"org":"org-c","role":"partner","identity":{"org":"org-c","curve":"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7","box":"00","sign":"00"}})");
  s.Add("api_json", R"([1,-2.5e-3,"\u00e9\ud83d\ude00",{"a":[[],{}]},true,false,null])");

  for (const char* org : {"org-a", "maint", "00000000-0000-4000-8000-00000000000a"}) {
    Identity id = Must(Identity::Generate(org));
    s.Add("identity_pub", PublicIdentityJson(id.pub));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_seeds CORPUS_DIR\n";
    return 2;
  }
  Seeds s{fs::path(argv[1])};
  Replicas r;
  Messages(s, r);
  Codec(s, r);
  Json(s, r);
  s.Summary();
  return 0;
}
