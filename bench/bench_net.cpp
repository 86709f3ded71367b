#include "bench/internal/bench_net.h"

#include <httplib.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <zmq.hpp>

#include "broker/roster.h"
#include "store/data_dir.h"
#include "transport/sockets.h"
#include "transport/zap.h"

namespace sb::bench {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr uint64_t kAckWindow = 128;       // raw CURVE: messages per ack (AgentSync's batch)
constexpr uint64_t kRawMessages = 50'048;  // raw CURVE messages per run (a whole number of windows)
static_assert(kRawMessages % kAckWindow == 0);  // (also keeps clang from calling kAckWindow unused)

double Seconds(Steady::time_point a, Steady::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string TempDir(const std::string& dir, const char* tag) {
  std::string base = dir.empty() ? (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp") : dir;
  std::string tmpl = base + "/sb-bench-" + tag + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) return "";
  return buf.data();
}

std::string Uuid(uint32_t prefix, uint64_t n) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%08x-0000-4000-8000-%012llx", prefix,
                static_cast<unsigned long long>(n));
  return buf;
}
std::string OrgId(size_t agent) {
  return Uuid(0x0b0b0b0b, agent);
}

Status Network::Start(size_t agents, bool referrals) {
  broker_path_ = TempDir(dir_, "broker");
  if (broker_path_.empty()) return Status::IoError("cannot create a temporary directory");
  StoreOptions so;
  so.create_if_missing = true;
  ASSIGN_OR_RETURN(broker_store_, Store::Open(broker_path_, so));
  ASSIGN_OR_RETURN(broker_id_, Identity::Generate("bench-broker"));
  // The API token: hex, as `switchboard init` writes one. (A CURVE secret in Z85 was used here,
  // and some of them never matched at the API: every status read was refused and bench sync
  // said "seeding failed" in about one run in six.)
  token_ = RandomToken();
  Roster roster(broker_store_.get());
  RETURN_IF_ERROR(roster.Load());
  for (size_t i = 0; i < agents; ++i) {
    auto a = std::make_unique<Node>();
    ASSIGN_OR_RETURN(a->id, Identity::Generate(OrgId(i)));
    a->replica = 0x5b000000 + i + 1;
    RETURN_IF_ERROR(roster.Enroll(a->id.pub, Role::kPartner, clock_->NowMillis()));
    agents_.push_back(std::move(a));
  }
  BrokerServer::Options bo;
  bo.listen = "tcp://127.0.0.1:*";
  bo.api_port = 0;
  bo.token = token_;
  bo.core.rate_per_s = 1e9;
  bo.core.rate_burst = 1e9;
  server_ = std::make_unique<BrokerServer>(broker_store_.get(), clock_, broker_id_, bo);
  ASSIGN_OR_RETURN(int port, server_->Start());
  loop_ = std::thread([this] { server_->Run(); });
  api_ = std::make_unique<httplib::Client>("127.0.0.1", port);
  api_->set_keep_alive(true);
  std::vector<Status> opened(agents_.size());
  ParallelFor(agents_.size(), kParallel,
              [&](size_t i) { opened[i] = OpenAgent(*agents_[i], referrals); });
  for (const Status& s : opened) RETURN_IF_ERROR(s);
  return Status::Ok();
}

Status Network::OpenAgent(Node& a, bool referrals) {
  a.path = TempDir(dir_, "agent");
  if (a.path.empty()) return Status::IoError("cannot create a temporary directory");
  StoreOptions so;
  so.create_if_missing = true;
  ASSIGN_OR_RETURN(a.store, Store::Open(a.path, so));
  Agent::Options o;
  o.replica = a.replica;
  o.identity = a.id;
  o.broker = broker_id_.pub;
  o.referrals = referrals;
  ASSIGN_OR_RETURN(a.agent, Agent::Open(a.store.get(), clock_, std::move(o)));
  return Status::Ok();
}

Status Network::Connect(Node& a) {
  return a.agent->Connect(server_->bound_endpoint());
}

json Network::BrokerStatus() {
  httplib::Headers headers = {{"Authorization", "Bearer " + token_}};
  auto res = api_->Get("/v1/status", headers);
  if (!res || res->status != 200) return json::object();
  json j = json::parse(res->body, nullptr, false);
  return j.is_object() ? j : json::object();
}

Network::~Network() {
  ParallelFor(agents_.size(), kParallel, [&](size_t i) {
    if (agents_[i]->agent) agents_[i]->agent->Disconnect();
  });
  // The client first: the API's worker would otherwise hold its keep-alive connection (and
  // the broker's Stop) until httplib's keep-alive timeout.
  api_.reset();
  if (server_) {
    server_->Stop();
    if (loop_.joinable()) loop_.join();
    server_.reset();
  }
  broker_store_.reset();
  ParallelFor(agents_.size(), kParallel, [&](size_t i) {
    Node& a = *agents_[i];
    a.agent.reset();
    a.store.reset();
    if (!a.path.empty()) fs::remove_all(a.path);
  });
  if (!broker_path_.empty()) fs::remove_all(broker_path_);
}

// Messages/s from a DEALER to a ROUTER over CURVE with ZAP (see the top of this file).
double RawCurve(size_t size, int dealers, uint64_t batch) {
  Result<Identity> server = Identity::Generate("bench-router");
  if (!server.ok() || dealers < 1 || batch < 1) return -1;
  std::vector<Identity> clients;
  for (int i = 0; i < dealers; ++i) {
    Result<Identity> c = Identity::Generate("bench-dealer-" + std::to_string(i));
    if (!c.ok()) return -1;
    clients.push_back(std::move(c).value());
  }
  // Each DEALER sends a warm-up window (the handshake) and then `per` messages.
  uint64_t per =
      std::max<uint64_t>(batch, kRawMessages / static_cast<uint64_t>(dealers) / batch * batch);
  try {
    zmq::context_t server_ctx(1), client_ctx(1);
    ZapAuthenticator zap(server_ctx, [&](const std::string& key) -> std::optional<std::string> {
      for (const Identity& c : clients) {
        if (key == c.pub.curve_public) return c.pub.org;
      }
      return std::nullopt;
    });
    SocketLimits limits;
    Result<zmq::socket_t> router =
        MakeBrokerSocket(server_ctx, *server, "tcp://127.0.0.1:*", limits);
    if (!router.ok()) return -1;
    router->set(zmq::sockopt::rcvtimeo, 10'000);
    std::string endpoint = router->get(zmq::sockopt::last_endpoint);
    uint64_t total = (batch + per) * static_cast<uint64_t>(dealers);
    std::thread receiver([&] {
      std::map<std::string, uint64_t> got;
      try {
        for (uint64_t n = 0; n < total; ++n) {
          zmq::message_t id, body;
          if (!router->recv(id) || !router->recv(body)) return;
          std::string peer(static_cast<const char*>(id.data()), id.size());
          if (++got[peer] % batch == 0) {
            router->send(id, zmq::send_flags::sndmore);
            router->send(zmq::str_buffer("k"));
          }
        }
      } catch (const zmq::error_t&) {
      }
    });
    std::atomic<bool> failed{false};
    std::atomic<int> warm{0};
    std::atomic<bool> go{false};
    Steady::time_point t0;
    std::vector<std::thread> senders;
    for (int i = 0; i < dealers; ++i) {
      senders.emplace_back([&, i] {
        Result<zmq::socket_t> dealer =
            MakeAgentSocket(client_ctx, clients[i], server->pub.curve_public, endpoint, limits);
        if (!dealer.ok()) {
          failed = true;
          ++warm;
          return;
        }
        dealer->set(zmq::sockopt::rcvtimeo, 10'000);
        dealer->set(zmq::sockopt::sndtimeo, 10'000);
        std::string payload(size, 'd');
        auto window = [&] {
          for (uint64_t k = 0; k < batch; ++k) {
            if (!dealer->send(zmq::buffer(payload))) return false;
          }
          zmq::message_t ack;
          return dealer->recv(ack).has_value();
        };
        bool ok = window();
        ++warm;
        while (!go) std::this_thread::yield();
        for (uint64_t sent = 0; ok && sent < per; sent += batch) ok = window();
        if (!ok) failed = true;
      });
    }
    while (warm < dealers) std::this_thread::yield();
    t0 = Steady::now();
    go = true;
    for (auto& t : senders) t.join();
    double rate = failed ? -1 : per * static_cast<double>(dealers) / Seconds(t0, Steady::now());
    receiver.join();
    return rate;
  } catch (const zmq::error_t&) {
    return -1;
  }
}

double RawSyncedPuts(const std::string& dir, int writers, uint64_t puts, size_t value_size,
                     uint64_t batch) {
  std::string path = TempDir(dir, "raw");
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  if (path.empty() || !rocksdb::DB::Open(options, path, &raw).ok()) return -1;
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string value(value_size, 'v');
  rocksdb::WriteOptions wo;
  wo.sync = true;
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  auto t0 = Steady::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < writers; ++t) {
    threads.emplace_back([&] {
      for (uint64_t i; (i = next.fetch_add(batch)) < puts;) {
        rocksdb::WriteBatch b;
        for (uint64_t k = i; k < std::min(puts, i + batch); ++k) {
          b.Put(Uuid(0, k), value).PermitUncheckedError();
        }
        if (!db->Write(wo, &b).ok()) failed = true;
      }
    });
  }
  for (auto& t : threads) t.join();
  double rate = puts / Seconds(t0, Steady::now());
  db.reset();
  fs::remove_all(path);
  return failed ? -1 : rate;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The nearest-rank percentile of `sorted`.
double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p * sorted.size()));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

std::string Fmt(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (decimals == 0) {
    for (int i = static_cast<int>(s.size()) - 3; i > (s[0] == '-' ? 1 : 0); i -= 3) {
      s.insert(i, ",");
    }
  }
  return s;
}

}  // namespace sb::bench
