// `switchboard demo`: until the sync network exists (broker and agents), the demo narrates the
// merge itself — three replicas of the directory exchanging encoded deltas in memory — and
// then runs the full network simulator. Everything is deterministic.
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>

#include "cli/commands.h"
#include "cli/simulator.h"
#include "conflict/codec.h"
#include "conflict/replica.h"
#include "conflict/views.h"

namespace sb::cli {
namespace {

constexpr char kOrg[] = "6f1c2a4e-0000-4000-8000-000000000001";
constexpr char kPhone[] = "6f1c2a4e-0000-4000-8000-000000000002";
constexpr char kService[] = "6f1c2a4e-0000-4000-8000-000000000003";

struct Node {
  std::string name;
  Replica replica;
};

class Demo {
 public:
  Demo()
      : shelter_{"Casa Segura (partner)", Replica(1, FieldSchema::Hsds())},
        legal_{"Legal Aid Lagos (partner)", Replica(2, FieldSchema::Hsds())},
        hub_{"Network maintainer", Replica(3, FieldSchema::Hsds())} {}

  int Run() {
    Step("1. A partner creates its listing; the delta reaches everyone");
    Ship(shelter_, Must(shelter_.replica.Set(
                       kOrg, "organization",
                       {{"name", std::string("Casa Segura")},
                        {"description", std::string("Emergency shelter for women and minors")},
                        {"owner", std::string(kOrg)}},
                       Now())),
         {&legal_, &hub_});
    Ship(shelter_, Must(shelter_.replica.Set(kService, "service",
                                             {{"organization_id", std::string(kOrg)},
                                              {"name", std::string("Emergency beds")},
                                              {"capacity_beds_available", int64_t{4}},
                                              {"owner", std::string(kOrg)}},
                                             Now())),
         {&legal_, &hub_});
    Show(legal_, kOrg, "name");

    Step("2. Two editors change the same field at once: both values are kept as siblings");
    Delta a = Must(shelter_.replica.Set(kService, "service",
                                        {{"capacity_beds_available", int64_t{3}}}, Now()));
    Delta b = Must(hub_.replica.Set(kService, "service",
                                    {{"capacity_beds_available", int64_t{2}}}, Now()));
    Ship(shelter_, a, {&legal_, &hub_});
    Ship(hub_, b, {&legal_, &shelter_});
    for (Node* n : {&shelter_, &legal_, &hub_}) Show(*n, kService, "capacity_beds_available");
    ShowConflicts(hub_, kService);

    Step("3. A moderated field: a partner's new hotline number waits for a maintainer");
    Delta phone = Must(shelter_.replica.Set(kPhone, "phone",
                                            {{"organization_id", std::string(kOrg)},
                                             {"number", std::string("+2348001234567")},
                                             {"owner", std::string(kOrg)}},
                                            Now()));
    Ship(shelter_, phone, {&legal_, &hub_});
    ShowPublished(legal_, kPhone, "number");
    Delta approve = Must(hub_.replica.Set(
        kPhone, "phone", {{PublishedFieldName("number"), std::string("+2348001234567")}}, Now()));
    Ship(hub_, approve, {&legal_, &shelter_});
    std::cout << "   the maintainer approves it\n";
    ShowPublished(legal_, kPhone, "number");

    Step("4. Offline: a partner edits while cut off; duplicates and reordering are harmless");
    Delta d1 = Must(legal_.replica.Set(kOrg, "organization",
                                       {{"alternate_name", std::string("CS")}}, Now()));
    Delta d2 = Must(legal_.replica.AddElement(kOrg, "countries_served", "NG", Now()));
    Delta d3 = Must(legal_.replica.AddElement(kOrg, "countries_served", "BJ", Now()));
    std::cout << "   3 edits queued; on reconnect they arrive reversed and twice each\n";
    for (const Delta* d : {&d3, &d2, &d1, &d1, &d3, &d2}) Ship(legal_, *d, {&shelter_, &hub_}, false);
    Show(shelter_, kOrg, "alternate_name");
    std::cout << "   countries_served at " << shelter_.name << ": "
              << Elements(shelter_, kOrg, "countries_served") << "\n";

    Step("5. A delete and a concurrent edit: neither is lost, the maintainer decides");
    Delta del = Must(shelter_.replica.Delete(kPhone, Now()));
    Delta edit = Must(legal_.replica.Set(kPhone, "phone",
                                         {{"description", std::string("Answered 24/7")}}, Now()));
    Ship(shelter_, del, {&legal_, &hub_});
    Ship(legal_, edit, {&shelter_, &hub_});
    ShowConflicts(hub_, kPhone);

    Step("6. Bad input changes nothing");
    auto bad = shelter_.replica.Set(kPhone, "phone", {{"number", std::string("0800 CALL NOW")}},
                                    Now());
    std::cout << "   invalid phone: " << bad.status().ToString() << "\n";
    std::string bytes = EncodeDelta(d1);
    bytes[bytes.size() / 2] ^= 0x20;
    std::cout << "   corrupted delta: " << DecodeDelta(bytes).status().ToString() << "\n";
    Replica skewed(9, FieldSchema::Hsds());
    Delta future = Must(skewed.Set(kOrg, "organization",
                                   {{"name", std::string("Hijacked")}}, Now() + 3'600'000));
    std::cout << "   a replica whose clock is an hour fast: "
              << hub_.replica.Apply(future, Now()).ToString() << "\n";

    Step("7. Convergence check");
    std::string s = EncodeDirectory(shelter_.replica.state());
    bool same = s == EncodeDirectory(legal_.replica.state()) &&
                s == EncodeDirectory(hub_.replica.state());
    std::cout << "   three replicas, " << shelter_.replica.state().size() << " records: "
              << (same ? "identical states" : "STATES DIFFER") << "\n";

    Step("8. The network simulator: 5 replicas, 20,000 edits, loss, duplicates, partitions");
    sim::SimOptions opts;
    opts.replicas = 5;
    opts.ops = 20000;
    opts.seed = 7;
    opts.dup = 0.2;
    opts.drop = 0.1;
    opts.reorder = true;
    opts.partitions = 3;
    std::cout << "   switchboard sim --replicas 5 --ops 20000 --seed 7 --dup 0.2 --drop 0.1 "
                 "--reorder --partitions 3\n";
    sim::SimReport report = sim::RunSimulation(opts, nullptr);
    sim::PrintReport(opts, report, std::cout);
    return same && report.converged ? 0 : 1;
  }

 private:
  uint64_t Now() { return now_ += 1000; }

  static void Step(const std::string& title) { std::cout << "\n" << title << "\n"; }

  template <typename T>
  static T Must(Result<T> r) {
    if (!r.ok()) {
      std::cerr << "demo step failed: " << r.status().ToString() << "\n";
      std::exit(1);
    }
    return std::move(r).value();
  }

  // Sends `d` from `from` to each of `to` through the codec, as the network would.
  void Ship(const Node& from, const Delta& d, std::initializer_list<Node*> to, bool say = true) {
    std::string wire = EncodeDelta(d);
    for (Node* n : to) {
      Result<Delta> decoded = DecodeDelta(wire);
      Status s = decoded.ok() ? n->replica.Apply(*decoded, Now()) : decoded.status();
      if (!s.ok()) std::cout << "   " << n->name << " refused: " << s.ToString() << "\n";
    }
    if (say) {
      std::cout << "   " << from.name << " sent a delta of " << wire.size() << " bytes\n";
    }
  }

  static void Show(const Node& n, const std::string& id, const std::string& field) {
    const Record* r = n.replica.state().Find(id);
    RecordView v = ProposedView(*r, FieldSchema::Hsds());
    const FieldView& f = v.fields.at(field);
    std::cout << "   " << n.name << " shows " << field << " = " << ValueToString(*f.value);
    if (f.siblings.size() > 1) {
      std::cout << "  (siblings:";
      for (const Sibling& s : f.siblings) std::cout << " " << ValueToString(s.value);
      std::cout << ")";
    }
    std::cout << "\n";
  }

  static void ShowPublished(const Node& n, const std::string& id, const std::string& field) {
    const Record* r = n.replica.state().Find(id);
    RecordView pub = PublishedView(*r, FieldSchema::Hsds());
    RecordView prop = ProposedView(*r, FieldSchema::Hsds());
    auto it = pub.fields.find(field);
    std::cout << "   " << n.name << ": published " << field << " = "
              << (it == pub.fields.end() ? std::string("(none yet)") : ValueToString(*it->second.value))
              << ", proposed = " << ValueToString(*prop.fields.at(field).value)
              << (prop.fields.at(field).pending ? " [pending review]" : "") << "\n";
  }

  static void ShowConflicts(const Node& n, const std::string& id) {
    for (const Conflict& c : Conflicts(*n.replica.state().Find(id), FieldSchema::Hsds())) {
      std::cout << "   review item at " << n.name << ": " << ConflictKindName(c.kind) << " on "
                << (c.field.empty() ? "record" : c.field) << " (" << c.siblings.size()
                << " value" << (c.siblings.size() == 1 ? "" : "s") << ")\n";
    }
  }

  static std::string Elements(const Node& n, const std::string& id, const std::string& field) {
    std::string out;
    if (const AwSet* s = n.replica.state().Find(id)->Set(field)) {
      for (const auto& e : s->Elements()) out += (out.empty() ? "" : ", ") + e;
    }
    return out;
  }

  uint64_t now_ = 1'790'000'000'000;  // a fixed simulated start time (ms)
  Node shelter_, legal_, hub_;
};

}  // namespace

void AddDemoCommand(CLI::App& app, int& exit_code) {
  CLI::App* demo = app.add_subcommand(
      "demo", "Narrated demonstration: replicas merging edits, then the network simulator");
  demo->callback([&exit_code] { exit_code = Demo().Run(); });
}

}  // namespace sb::cli
