// Tombstone collection never resurrects (broker/gc.h): for random interleavings of creates,
// edits and deletes at three agents (two partners and a maintainer, who may edit every record),
// disconnections (agents offline long enough to turn stale), collections at the broker, and
// late deliveries of old pushes, no collected record is ever back in the broker's state, an
// agent that dropped one never holds it again, and once everyone reconnects the network
// converges with no agent holding a collected record.
//
// Each case runs a real BrokerCore and three agents over real RocksDB stores (the session
// fixture), so cases cost ~0.1-0.3 s: the number of cases is SB_GC_PROP_CASES (default 12),
// not RC_PARAMS' max_success. RC_PARAMS="seed=..." reruns a failure.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include "broker/broker_core.h"
#include "conflict/views.h"
#include "testing/edits.h"
#include "testing/session_fixture.h"

namespace sb {
namespace {

using testing::Uuid;

const std::string kOrgA = Uuid(0xa);
const std::string kOrgB = Uuid(0xb);
const std::string kOrgM = Uuid(0xc);
constexpr uint64_t kHour = 3'600'000;

// kAwayEdit: the agent goes offline and edits a record that another agent then deletes; four
// hours pass (it turns stale) and the broker collects: its edit arrives late, if ever.
enum class Op { kCreate, kEdit, kDelete, kToggle, kDeliver, kSettle, kHours, kReplay, kAwayEdit };

struct Step {
  Op op = Op::kDeliver;
  int agent = 0;  // 0: partner A; 1: partner B; 2: the maintainer
  int pick = 0;   // which record (of those the agent holds), which old push, how many rounds
};

std::ostream& operator<<(std::ostream& os, const Step& s) {
  static const char* kNames[] = {"create", "edit",  "delete", "toggle",   "deliver",
                                 "settle", "hours", "replay", "away_edit"};
  return os << kNames[static_cast<int>(s.op)] << "(" << s.agent << "," << s.pick << ")";
}

rc::Gen<Step> GenStep() {
  return rc::gen::build<Step>(
      rc::gen::set(&Step::op, rc::gen::weightedElement<Op>({{4, Op::kCreate},
                                                            {3, Op::kEdit},
                                                            {4, Op::kDelete},
                                                            {2, Op::kToggle},
                                                            {3, Op::kDeliver},
                                                            {2, Op::kSettle},
                                                            {3, Op::kHours},
                                                            {1, Op::kReplay},
                                                            {2, Op::kAwayEdit}})),
      rc::gen::set(&Step::agent, rc::gen::inRange(0, 3)),
      rc::gen::set(&Step::pick, rc::gen::inRange(0, 8)));
}

testing::SessionFixture::Options NetOptions() {
  testing::SessionFixture::Options o;
  o.broker.gc_interval_ms = kHour;
  o.broker.gc_max_ack_age_ms = 2 * kHour;
  return o;
}

RecordEdit Service(const std::string& id, const std::string& name, const std::string& owner) {
  RecordEdit e;
  e.id = id;
  e.kind = "service";
  e.values = {{"name", name}, {"owner", owner}};
  return e;
}

std::map<std::string, RecordView> Views(const Directory& d) {
  std::map<std::string, RecordView> out;
  for (const auto& [id, r] : d.records()) out[id] = ProposedView(r, FieldSchema::Hsds());
  return out;
}

// Outbox entries waiting (read from the store: a replayed push's ack settles an entry already
// gone, which the outbox_depth() gauge counts again).
size_t Pending(testing::SessionAgent* a) {
  Result<std::vector<OutboxEntry>> o = a->dir->Outbox(0, 1000);
  return o.ok() ? o->size() : 1000;
}

void RunCase(const std::vector<Step>& steps) {
  testing::SessionFixture net(NetOptions());
  RC_ASSERT(net.Start().ok());
  std::vector<testing::SessionAgent*> agents = {
      &net.AddAgent({kOrgA, Role::kPartner, 0xa1, {}, true}),
      &net.AddAgent({kOrgB, Role::kPartner, 0xb1, {}, true}),
      &net.AddAgent({kOrgM, Role::kMaintainer, 0xc1, {}, true}),
  };
  for (auto* a : agents) net.Connect(*a);
  // Pushes as they went up, by agent, to deliver again later.
  std::map<testing::SessionAgent*, std::vector<std::string>> pushes;
  net.intercept_up = [&](testing::SessionAgent& from, const std::string& bytes) {
    Result<proto::Message> m = proto::DecodeEnvelope(bytes);
    if (m.ok() && std::holds_alternative<proto::Push>(*m)) pushes[&from].push_back(bytes);
    return false;
  };
  std::vector<std::string> ids;                  // every record created
  std::map<size_t, std::set<std::string>> gone;  // collected ids each agent no longer holds
  unsigned next_id = 0, next_name = 0;
  const std::string owners[] = {kOrgA, kOrgB, kOrgA};  // what each agent creates

  auto holds = [](testing::SessionAgent* a, const std::string& id) {
    return a->dir->Read([&](const Directory& d) { return d.Find(id) != nullptr; });
  };
  auto check = [&](const char* when) {
    for (const std::string& id : ids) {
      if (!net.core().CollectedAt(id)) continue;
      if (net.core().state().Find(id)) {
        RC_FAIL(std::string("collected record back at the broker (") + when + "): " + id);
      }
      for (size_t i = 0; i < agents.size(); ++i) {
        if (!holds(agents[i], id)) {
          gone[i].insert(id);
        } else if (gone[i].count(id)) {
          RC_FAIL(std::string("collected record back at agent ") + std::to_string(i) + " (" + when +
                  "): " + id);
        }
      }
    }
  };
  // The live records an agent holds and may write (a partner: its organization's).
  auto live_ids = [&](size_t agent) {
    std::vector<std::string> out;
    agents[agent]->dir->Read([&](const Directory& d) {
      for (const std::string& id : ids) {
        const Record* r = d.Find(id);
        if (!r || r->IsDeleted()) continue;
        if (agent == 2 || r->Owner() == owners[agent]) out.push_back(id);
      }
      return 0;
    });
    return out;
  };

  for (const Step& s : steps) {
    testing::SessionAgent* a = agents[s.agent];
    switch (s.op) {
      case Op::kCreate: {
        std::string id = Uuid(0xa400 + next_id++);
        ids.push_back(id);
        (void)a->dir->Apply({Service(id, "svc " + std::to_string(next_name++), owners[s.agent])},
                            "test");
        break;
      }
      case Op::kEdit:
      case Op::kDelete: {
        std::vector<std::string> live = live_ids(static_cast<size_t>(s.agent));
        if (live.empty()) break;
        const std::string& id = live[static_cast<size_t>(s.pick) % live.size()];
        RecordEdit e = Service(id, "svc " + std::to_string(next_name++), "");
        e.values.erase("owner");
        if (s.op == Op::kDelete) {
          e.values.clear();
          e.remove = true;
        }
        (void)a->dir->Apply({e}, "test");  // may be refused (e.g. a clock-ahead agent): fine
        break;
      }
      case Op::kToggle:
        if (a->connected) {
          net.Disconnect(*a);
        } else {
          net.Connect(*a);
        }
        break;
      case Op::kDeliver:
        for (int i = 0; i <= s.pick % 3; ++i) net.Pump();
        break;
      case Op::kSettle:
        net.Run(5000, 200);
        break;
      case Op::kHours:
        // Time passes (agents away that long turn stale) and the broker collects.
        net.clock().Advance(kHour + 1 + static_cast<uint64_t>(s.pick % 2) * kHour);
        net.Pump();
        net.Pump();
        break;
      case Op::kAwayEdit: {
        size_t other = s.agent == 2 ? 0 : 2;
        std::vector<std::string> mine = live_ids(static_cast<size_t>(s.agent)), both;
        std::vector<std::string> theirs = live_ids(other);
        for (const std::string& id : mine) {
          if (std::find(theirs.begin(), theirs.end(), id) != theirs.end()) both.push_back(id);
        }
        if (both.empty()) break;
        const std::string& id = both[static_cast<size_t>(s.pick) % both.size()];
        if (a->connected) net.Disconnect(*a);
        RecordEdit e = Service(id, "svc " + std::to_string(next_name++), "");
        e.values.erase("owner");
        (void)a->dir->Apply({e}, "test");
        RecordEdit del = Service(id, "", "");
        del.values.clear();
        del.remove = true;
        (void)agents[other]->dir->Apply({del}, "test");
        net.Run(5000, 200);
        for (int i = 0; i < 2; ++i) {
          net.clock().Advance(2 * kHour + 1);
          net.Run(5000, 200);
        }
        break;
      }
      case Op::kReplay: {
        std::vector<std::string>& old = pushes[a];
        if (old.empty() || !a->connected) break;
        net.SendUp(*a, old[static_cast<size_t>(s.pick) % old.size()]);
        break;
      }
    }
    std::ostringstream when;
    when << s;
    check(when.str().c_str());
  }

  // Everyone back: deliver until every outbox is empty and the network is quiet.
  for (auto* a : agents) {
    if (!a->connected) net.Connect(*a);
  }
  for (int round = 0; round < 20; ++round) {
    net.Run(20'000, 500);
    check("settling");
    bool empty = true;
    for (auto* a : agents) empty = empty && Pending(a) == 0;
    if (empty && net.settled()) break;
    net.clock().Advance(15'000);  // resend timers
  }
  for (auto* a : agents) RC_ASSERT(Pending(a) == 0u);
  // A last collection and its delivery; then nothing collected is held anywhere.
  net.clock().Advance(kHour + 1);
  net.Run(20'000, 500);
  check("final");
  for (const std::string& id : ids) {
    if (!net.core().CollectedAt(id)) continue;
    for (auto* a : agents) RC_ASSERT(!holds(a, id));
  }
  // Convergence: each agent's view is the broker's for its organization and role.
  RC_ASSERT(Views(agents[0]->State()) == Views(net.BrokerStateFor(kOrgA, Role::kPartner)));
  RC_ASSERT(Views(agents[1]->State()) == Views(net.BrokerStateFor(kOrgB, Role::kPartner)));
  RC_ASSERT(Views(agents[2]->State()) == Views(net.BrokerStateFor(kOrgM, Role::kMaintainer)));
  RC_TAG(net.core().collected_count() > 0 ? "collected some" : "collected none");
  size_t late = 0;
  if (Result<std::vector<RefusedPush>> r = net.core().journal().Refusals(); r.ok()) {
    for (const RefusedPush& p : *r)
      late += p.reason.find("was deleted and collected") != std::string::npos;
  }
  RC_TAG(late > 0 ? "a late edit refused" : "no late edit");
}

TEST(GcProperties, NoCollectedRecordComesBackAndTheNetworkConverges) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  rc::detail::TestMetadata metadata;
  metadata.id = std::string(info->test_suite_name()) + "/" + info->name();
  metadata.description = info->name();
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  const char* cases = std::getenv("SB_GC_PROP_CASES");
  params.maxSuccess = cases ? std::max(1, std::atoi(cases)) : 12;
  params.maxSize = std::min(params.maxSize, 40);
  auto result = rc::detail::checkTestable(
      [] { RunCase(*rc::gen::container<std::vector<Step>>(GenStep())); }, metadata, params);
  std::ostringstream ss;
  rc::detail::printResultMessage(result, ss);
  if (!result.template is<rc::detail::SuccessResult>()) {
    FAIL() << ss.str();
  } else {
    std::cout << ss.str() << std::endl;
  }
}

}  // namespace
}  // namespace sb
