// `switchboard bench swarm` (swarm_bench.h). One thread drives every client: an epoll set over
// the ZeroMQ sockets' notification descriptors (ZMQ_FD), so the cost of a turn grows with the
// sockets that have something, not with N.
#include "bench/swarm_bench.h"

#include "bench/bench_proc.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include <httplib.h>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <utility>
#include <zmq.hpp>

#include "agents/hsds_import.h"
#include "agents/hsds_json.h"
#include "base/hex.h"
#include "base/json.h"
#include "broker/fanout.h"
#include "broker/ingest.h"
#include "broker/roster.h"
#include "conflict/codec.h"
#include "conflict/edit.h"
#include "crypto/identity.h"
#include "store/data_dir.h"
#include "transport/protocol.h"
#include "transport/sockets.h"

namespace sb::bench {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

uint64_t NowNs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
          .count());
}

uint64_t WallMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string OrgOf(size_t i) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "5a5a%04zx-0000-4000-8000-%012zx", i >> 16 & 0xffff, i);
  return buf;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(p / 100.0 * v.size())) - 1;
  return v[std::min(i, v.size() - 1)];
}

// ---------- what the clients share ----------

// Every signed delta a client receives is checked: the first copy of given bytes is verified
// (Ed25519) and decoded; a later copy is compared byte for byte with the first and shares its
// result. That is what verifying every copy would conclude, at a fraction of the cost, so the
// clients' own CPU does not crowd out the broker's on a shared machine.
struct Checked {
  std::string bytes, signature, signer_key;
  std::shared_ptr<const Delta> delta;  // null: refused
};

class CheckCache {
 public:
  std::shared_ptr<const Delta> Check(const std::string& bytes, const std::string& signature,
                                     const std::string& key, uint64_t* distinct) {
    size_t h =
        std::hash<std::string_view>()(bytes) ^ (std::hash<std::string_view>()(signature) << 1);
    auto it = cache_.find(h);
    if (it != cache_.end() && it->second.bytes == bytes && it->second.signature == signature &&
        it->second.signer_key == key) {
      return it->second.delta;
    }
    ++*distinct;
    Checked c{bytes, signature, key, nullptr};
    if (VerifySignature(key, bytes, signature)) {
      if (Result<Delta> d = DecodeDelta(bytes); d.ok()) {
        c.delta = std::make_shared<const Delta>(std::move(d).value());
      }
    }
    auto delta = c.delta;
    cache_[h] = std::move(c);
    return delta;
  }

 private:
  std::unordered_map<size_t, Checked> cache_;
};

struct SwarmClient {
  Identity id;
  ReplicaId replica = 0;
  zmq::socket_t socket;
  bool maintainer = false;
  bool ready = false;  // welcomed, and the whole roster has arrived
  bool welcomed = false;
  bool rewind_pending = false;
  uint64_t cursor = 0;
  uint64_t checkpoint = 0;
  uint32_t chunk_next = 0;
  uint64_t bytes_in = 0, messages_in = 0;
  uint64_t hellos = 0, refusals = 0, rejected = 0, starts_over = 0;
  bool credit_due = false;
  uint64_t reached_ns = 0;  // when the cursor reached the current target
  uint64_t last_in_ns = 0;  // when it last received anything
  std::vector<std::shared_ptr<const Delta>> replica_log;  // what it applied, in order
  std::vector<proto::PushAck> acks;                       // the maintainer's
};

class Swarm {
 public:
  Swarm(zmq::context_t& ctx, std::string broker_curve, std::string broker_sign,
        std::string endpoint, uint32_t window_bytes)
      : ctx_(ctx),
        broker_curve_(std::move(broker_curve)),
        broker_sign_(std::move(broker_sign)),
        endpoint_(std::move(endpoint)),
        window_bytes_(window_bytes),
        ep_(::epoll_create1(0)) {}
  ~Swarm() {
    clients_.clear();
    if (ep_ >= 0) ::close(ep_);
  }

  Status Add(Identity id, bool maintainer, ReplicaId replica) {
    auto c = std::make_unique<SwarmClient>();
    c->id = std::move(id);
    c->replica = replica;
    c->maintainer = maintainer;
    SocketLimits limits;
    limits.immediate = false;  // queue the Hello until the handshake completes (no monitor)
    ASSIGN_OR_RETURN(c->socket, MakeAgentSocket(ctx_, c->id, broker_curve_, endpoint_, limits));
    int fd = -1;
    size_t size = sizeof fd;
    if (zmq_getsockopt(c->socket.handle(), ZMQ_FD, &fd, &size) != 0) {
      return Status::IoError("cannot read a socket's ZMQ_FD");
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = clients_.size();
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) return Status::IoError("epoll_ctl failed");
    Send(*c,
         proto::Hello{proto::kProtocolVersion, c->replica, 0, 1 << 16, 0, window_bytes_, false});
    ++c->hellos;
    clients_.push_back(std::move(c));
    return Status::Ok();
  }

  // Runs the clients until `done()` holds or `timeout_ms` passes; false on timeout.
  bool RunUntil(const std::function<bool()>& done, uint64_t timeout_ms) {
    uint64_t deadline = NowNs() + timeout_ms * 1'000'000;
    uint64_t next_sweep = 0;
    epoll_event events[1024];
    while (!done()) {
      uint64_t now = NowNs();
      if (now > deadline) return false;
      int n = ::epoll_wait(ep_, events, 1024, 5);
      for (int i = 0; i < n; ++i) Service(*clients_[events[i].data.u64]);
      // ZMQ_FD is an edge notification that sends and receives can consume: look at every
      // socket now and then so that nothing waits for a notification that already passed.
      if (now >= next_sweep) {
        for (auto& c : clients_) {
          Service(*c);
          // As an agent does: behind and nothing from the broker for 30 s: ask it to resume
          // (a broker that lost the session starts one at the cursor).
          // (Service may just have stamped last_in_ns later than `now`.)
          if (c->ready && target_ != 0 && c->cursor < target_ && c->last_in_ns != 0 &&
              now > c->last_in_ns && now - c->last_in_ns > 30'000'000'000ull) {
            Send(*c, proto::Hello{proto::kProtocolVersion, c->replica, c->cursor, 1 << 16, 0,
                                  window_bytes_, true, /*has_roster=*/c->ready});
            ++c->hellos;
            c->last_in_ns = now;
          }
        }
        next_sweep = now + 50'000'000;
      }
    }
    return true;
  }

  void Send(SwarmClient& c, const proto::Message& m) {
    std::string bytes = proto::EncodeEnvelope(m);
    zmq::message_t msg(bytes.data(), bytes.size());
    try {
      (void)c.socket.send(msg, zmq::send_flags::dontwait);
    } catch (const zmq::error_t&) {
    }
  }

  std::vector<std::unique_ptr<SwarmClient>>& clients() { return clients_; }
  SwarmClient& maintainer() { return *clients_.back(); }
  void set_target(uint64_t seq) {
    target_ = seq;
    reached_ = 0;
    for (auto& c : clients_) {
      c->reached_ns = c->cursor >= seq ? NowNs() : 0;
      reached_ += c->reached_ns != 0;
    }
  }
  // Every client welcomed / at the target (counted as it happens: the loops ask every turn).
  bool all_ready() const { return ready_ == clients_.size(); }
  bool all_reached() const { return reached_ == clients_.size(); }
  uint64_t distinct_checks() const { return distinct_; }
  uint64_t rewinds() const { return rewinds_; }
  std::vector<size_t> message_sizes;  // of one client's Updates and checkpoint chunks, in order
  bool record_sizes = false;

 private:
  void Service(SwarmClient& c) {
    for (int i = 0; i < 4096; ++i) {
      int events = 0;
      size_t size = sizeof events;
      if (zmq_getsockopt(c.socket.handle(), ZMQ_EVENTS, &events, &size) != 0) break;
      if (!(events & ZMQ_POLLIN)) break;
      zmq::message_t msg;
      try {
        if (!c.socket.recv(msg, zmq::recv_flags::dontwait)) break;
      } catch (const zmq::error_t&) {
        break;
      }
      c.bytes_in += msg.size();
      ++c.messages_in;
      c.last_in_ns = NowNs();
      std::string_view bytes(static_cast<const char*>(msg.data()), msg.size());
      Result<proto::Message> m = proto::DecodeEnvelope(bytes);
      if (!m.ok()) continue;
      Handle(c, *m, msg.size());
    }
    if (c.credit_due) {
      c.credit_due = false;
      Send(c, proto::Credit{0, c.cursor, false, c.chunk_next});
    }
  }

  void Reached(SwarmClient& c) {
    if (target_ != 0 && c.reached_ns == 0 && c.cursor >= target_) {
      c.reached_ns = NowNs();
      ++reached_;
    }
  }

  void Handle(SwarmClient& c, const proto::Message& m, size_t size) {
    if (auto* w = std::get_if<proto::Welcome>(&m)) {
      c.welcomed = true;
      if (!w->resumed) {  // a new session at our cursor: what was in flight is not coming
        c.checkpoint = 0;
        c.chunk_next = 0;
        c.rewind_pending = false;
      }
    } else if (auto* r = std::get_if<proto::Roster>(&m)) {
      // The clients share one roster: parts add keys (the bench never revokes).
      if (!roster_) roster_ = std::make_shared<std::map<std::string, std::string>>();
      if (r->changes || roster_parts_seen_.insert(r->part).second) {
        for (const auto& e : r->entries) (*roster_)[e.org] = e.sign_key;
      }
      // Ready once the last part of the whole roster came (a new member's keys arrive later
      // as a change; the bench enrolls everyone first).
      if (!r->changes && !r->more && c.welcomed && !c.ready) {
        c.ready = true;
        ++ready_;
      }
    } else if (auto* u = std::get_if<proto::Updates>(&m)) {
      if (record_sizes && &c == clients_.front().get()) message_sizes.push_back(size);
      if (c.checkpoint != 0) return;
      for (const proto::LogEntry& e : u->entries) {
        if (e.seq <= c.cursor) continue;
        if (e.seq != c.cursor + 1) {
          if (!c.rewind_pending) {
            c.rewind_pending = true;
            ++rewinds_;
            Send(c, proto::Credit{0, c.cursor, true, 0});
          }
          break;
        }
        c.rewind_pending = false;
        if (!e.delta.delta.empty()) {
          std::string key = broker_sign_;
          if (e.delta.signer != "broker") {
            auto it = roster_ ? roster_->find(e.delta.author) : decltype(roster_->end()){};
            if (!roster_ || it == roster_->end()) break;  // the roster comes first
            key = it->second;
          }
          auto d = checks_.Check(e.delta.delta, e.delta.signature, key, &distinct_);
          if (!d)
            ++c.rejected;
          else
            c.replica_log.push_back(std::move(d));
        }
        c.cursor = e.seq;
        c.credit_due = true;
      }
      Reached(c);
    } else if (auto* k = std::get_if<proto::SnapshotChunk>(&m)) {
      if (record_sizes && &c == clients_.front().get()) message_sizes.push_back(size);
      if (k->index == 0) {
        c.checkpoint = k->snapshot;
        c.chunk_next = 0;
      }
      if (k->snapshot != c.checkpoint || k->index != c.chunk_next) return;
      ++c.chunk_next;
      auto d = checks_.Check(k->records, k->signature, broker_sign_, &distinct_);
      if (!d)
        ++c.rejected;
      else
        c.replica_log.push_back(std::move(d));
      if (k->last) {
        c.cursor = k->log_seq;
        c.checkpoint = 0;
      }
      c.credit_due = true;
      Reached(c);
    } else if (auto* a = std::get_if<proto::PushAck>(&m)) {
      c.acks.push_back(*a);
    } else if (auto* f = std::get_if<proto::Refusal>(&m)) {
      ++c.refusals;
      if (f->code == proto::RefusalCode::kHelloFirst) {
        // As an agent does: the broker dropped this session (its connection went away and
        // came back); start one at the cursor.
        c.checkpoint = 0;
        c.chunk_next = 0;
        c.rewind_pending = false;
        Send(c, proto::Hello{proto::kProtocolVersion, c.replica, c.cursor, 1 << 16, 0,
                             window_bytes_, false});
        ++c.hellos;
        ++c.starts_over;
      }
    }
  }

  zmq::context_t& ctx_;
  std::string broker_curve_, broker_sign_, endpoint_;
  uint32_t window_bytes_;
  int ep_;
  std::vector<std::unique_ptr<SwarmClient>> clients_;
  std::shared_ptr<std::map<std::string, std::string>> roster_;
  std::set<uint32_t> roster_parts_seen_;
  CheckCache checks_;
  uint64_t target_ = 0;
  size_t ready_ = 0, reached_ = 0;
  uint64_t distinct_ = 0, rewinds_ = 0;
};

// ---------- clients in more than one process ----------
//
// A process may hold only so many open files (every client is a connection and its socket's
// mailbox), and an unprivileged process cannot raise that limit. Beyond it the clients are
// shared among forked worker processes, each driving its share with the same loop; the parent
// keeps the first share and the maintainer, and speaks with each worker in lines over a socket
// pair. Times are steady-clock nanoseconds (CLOCK_MONOTONIC), the same in every process.
//
//   parent -> worker: "target S" (report when every client has log entry S), "stats", "quit"
//   worker -> parent: "ready" (every client welcomed), "reached S NS NS ..." (when each client
//                     got there), "stats {json}", "fail WHY"

class Channel {
 public:
  explicit Channel(int fd) : fd_(fd) { ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK); }
  Channel(Channel&& o) noexcept : fd_(std::exchange(o.fd_, -1)), in_(std::move(o.in_)) {}
  Channel& operator=(Channel&&) = delete;
  ~Channel() {
    if (fd_ >= 0) ::close(fd_);
  }

  // A whole line, if one has arrived; never blocks. "" with *closed set when the peer is gone.
  std::optional<std::string> Poll(bool* closed = nullptr) {
    for (;;) {
      size_t nl = in_.find('\n');
      if (nl != std::string::npos) {
        std::string line = in_.substr(0, nl);
        in_.erase(0, nl + 1);
        return line;
      }
      char buf[65536];
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n > 0) {
        in_.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0 && closed) *closed = true;
      return std::nullopt;
    }
  }

  // Writes a whole line (waiting for room: the other side reads as it runs its loop).
  void Send(const std::string& line) {
    std::string data = line + "\n";
    for (size_t off = 0; off < data.size();) {
      ssize_t n = ::write(fd_, data.data() + off, data.size() - off);
      if (n > 0) {
        off += static_cast<size_t>(n);
      } else if (n < 0 && errno == EAGAIN) {
        pollfd p{fd_, POLLOUT, 0};
        ::poll(&p, 1, 100);
      } else {
        return;  // the other side is gone; its Wait reports that
      }
    }
  }

 private:
  int fd_;
  std::string in_;
};

struct SwarmConfig {
  std::string broker_curve, broker_sign, endpoint;
  uint32_t window_bytes = 0;
};

ReplicaId RandomReplica() {
  return (static_cast<uint64_t>(randombytes_random()) << 32 | randombytes_random()) | 1;
}

// What a share of clients has to say at the end: sums, and one client's replica (encoded) so
// the parent can check that it converged.
json ShareStats(Swarm& swarm) {
  json j;
  uint64_t bytes = 0, hellos = 0, starts_over = 0, refusals = 0, rejected = 0;
  std::map<uint64_t, size_t> cursors;
  for (auto& c : swarm.clients()) {
    if (c->maintainer) continue;
    bytes += c->bytes_in;
    hellos += c->hellos;
    starts_over += c->starts_over;
    refusals += c->refusals;
    rejected += c->rejected;
    ++cursors[c->cursor];
  }
  json dist = json::object();
  for (auto& [cursor, k] : cursors) dist[std::to_string(cursor)] = k;
  j["bytes_in"] = bytes;
  j["hellos"] = hellos;
  j["started_over"] = starts_over;
  j["refusals"] = refusals;
  j["rejected"] = rejected;
  j["rewinds"] = swarm.rewinds();
  j["distinct"] = swarm.distinct_checks();
  j["cursors"] = dist;
  return j;
}

// A worker process: its clients until the parent says quit. Never returns.
[[noreturn]] void RunWorker(int fd, const SwarmConfig& config, const std::vector<Identity>& ids,
                            size_t from, size_t to) {
  Channel parent(fd);
  {
    zmq::context_t ctx(1);
    ctx.set(zmq::ctxopt::max_sockets, 65535);
    Swarm swarm(ctx, config.broker_curve, config.broker_sign, config.endpoint, config.window_bytes);
    for (size_t i = from; i < to; ++i) {
      if (Status s = swarm.Add(ids[i], false, RandomReplica()); !s.ok()) {
        parent.Send("fail " + s.ToString());
        ::_exit(1);
      }
    }
    bool announced = false, reported = true, quit = false;
    uint64_t target = 0;
    while (!quit) {
      std::optional<std::string> line;
      bool closed = false;
      swarm.RunUntil(
          [&] {
            if (!announced && swarm.all_ready()) return true;
            if (!reported && swarm.all_reached()) return true;
            line = parent.Poll(&closed);
            return line.has_value() || closed;
          },
          365ull * 24 * 3600 * 1000);
      if (closed) break;
      if (!announced && swarm.all_ready()) {
        parent.Send("ready");
        announced = true;
      }
      if (!reported && swarm.all_reached()) {
        std::string r = "reached " + std::to_string(target);
        for (auto& c : swarm.clients()) r += " " + std::to_string(c->reached_ns);
        parent.Send(r);
        reported = true;
      }
      if (!line) continue;
      if (line->rfind("target ", 0) == 0) {
        target = std::stoull(line->substr(7));
        swarm.set_target(target);
        reported = false;
      } else if (*line == "stats") {
        json j = ShareStats(swarm);
        Directory view;
        for (const auto& d : swarm.clients().front()->replica_log) view.Join(*d);
        // Stamped now: a delta may not hold entries stamped after it.
        j["replica"] = ToHex(EncodeDelta(view.AsDelta(1, Hlc::Make(WallMs(), 0))));
        parent.Send("stats " + DumpJson(j));
      } else if (*line == "quit") {
        quit = true;
      }
    }
  }
  ::_exit(0);
}

struct Worker {
  pid_t pid = -1;
  Channel channel;
  std::optional<std::string> reply;  // the awaited line, once it came
};

// Forks a child that runs `body` (which never returns) with its end of a socket pair; the child
// dies with this process. Must run before this process makes a ZeroMQ context (a forked child
// must not inherit one).
Result<Worker> ForkChild(const std::function<void(int fd)>& body) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return Status::IoError("socketpair failed");
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return Status::IoError("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    ::close(sv[0]);
    body(sv[1]);
    ::_exit(1);
  }
  ::close(sv[1]);
  return Worker{pid, Channel(sv[0]), std::nullopt};
}

// Sends `command` (if any) to every worker, then runs this process's clients until `local()`
// holds and every worker has answered with a line starting with `word`; the answers (the rest
// of each line) are left in each worker's `reply`. False on timeout or a failed worker (`why`).
bool AwaitWorkers(Swarm& swarm, std::vector<Worker>& workers, const std::string& command,
                  const std::string& word, const std::function<bool()>& local, uint64_t timeout_ms,
                  std::string* why) {
  for (Worker& w : workers) {
    w.reply.reset();
    if (!command.empty()) w.channel.Send(command);
  }
  bool failed = false;
  bool ok = swarm.RunUntil(
      [&] {
        bool all = true;
        for (Worker& w : workers) {
          if (w.reply) continue;
          bool closed = false;
          while (std::optional<std::string> line = w.channel.Poll(&closed)) {
            if (line->rfind(word + " ", 0) == 0 || *line == word) {
              w.reply = line->size() > word.size() ? line->substr(word.size() + 1) : "";
              break;
            }
            if (line->rfind("fail ", 0) == 0) {
              *why = "a worker process failed: " + line->substr(5);
              failed = true;
            }
          }
          if (closed && !w.reply) {
            *why = "a worker process exited";
            failed = true;
          }
          all = all && w.reply.has_value();
        }
        return failed || (all && local());
      },
      timeout_ms);
  return ok && !failed;
}

// ---------- the raw CURVE ceiling ----------

// One process's share of the raw ceiling's DEALERs: connects `n`, says "connected", waits for
// "go", reads until each has `total` bytes, says "done NS" (when the last one had them).
[[noreturn]] void RawDealers(int fd, size_t n, const std::string& endpoint,
                             const char* server_public, uint64_t total, bool starter) {
  Channel parent(fd);
  {
    zmq::context_t ctx(1);
    ctx.set(zmq::ctxopt::max_sockets, 65535);
    std::vector<zmq::socket_t> dealers;
    dealers.reserve(n);
    std::vector<uint64_t> received(n, 0);
    std::vector<bool> finished(n, false);
    for (size_t i = 0; i < n; ++i) {
      char pub[41], sec[41];
      zmq_curve_keypair(pub, sec);
      zmq::socket_t d(ctx, zmq::socket_type::dealer);
      zmq_setsockopt(d.handle(), ZMQ_CURVE_SERVERKEY, server_public, 40);
      zmq_setsockopt(d.handle(), ZMQ_CURVE_PUBLICKEY, pub, 40);
      zmq_setsockopt(d.handle(), ZMQ_CURVE_SECRETKEY, sec, 40);
      int hwm = 1 << 20;
      zmq_setsockopt(d.handle(), ZMQ_RCVHWM, &hwm, sizeof hwm);
      d.connect(endpoint);
      d.send(zmq::str_buffer("ready"), zmq::send_flags::none);
      dealers.push_back(std::move(d));
    }
    size_t oks = 0;
    std::vector<zmq::pollitem_t> items;
    for (auto& d : dealers) items.push_back({d.handle(), 0, ZMQ_POLLIN, 0});
    auto deadline = Clock::now() + std::chrono::seconds(170);
    while (oks < n && Clock::now() < deadline) {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(50));
      for (size_t i = 0; i < n; ++i) {
        zmq::message_t m;
        while (dealers[i].recv(m, zmq::recv_flags::dontwait)) ++oks;
      }
    }
    if (oks < n) ::_exit(1);
    parent.Send("connected");
    for (;;) {  // blocking wait for "go"
      bool closed = false;
      std::optional<std::string> line = parent.Poll(&closed);
      if (closed) ::_exit(1);
      if (line && *line == "go") break;
      pollfd p{fd, POLLIN, 0};
      ::poll(&p, 1, 100);
    }
    // The same event loop as the swarm's clients: epoll over each socket's ZMQ_FD.
    int ep = ::epoll_create1(0);
    for (size_t i = 0; i < n; ++i) {
      int zfd = -1;
      size_t size = sizeof zfd;
      zmq_getsockopt(dealers[i].handle(), ZMQ_FD, &zfd, &size);
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLET;
      ev.data.u64 = i;
      ::epoll_ctl(ep, EPOLL_CTL_ADD, zfd, &ev);
    }
    size_t done = 0;
    uint64_t last = 0;
    auto service = [&](size_t i) {
      if (finished[i]) return;
      for (;;) {
        int events = 0;
        size_t size = sizeof events;
        if (zmq_getsockopt(dealers[i].handle(), ZMQ_EVENTS, &events, &size) != 0) break;
        if (!(events & ZMQ_POLLIN)) break;
        zmq::message_t m;
        if (!dealers[i].recv(m, zmq::recv_flags::dontwait)) break;
        received[i] += m.size();
      }
      if (received[i] >= total) {
        finished[i] = true;
        ++done;
        last = NowNs();
        dealers[i].send(zmq::str_buffer("done"), zmq::send_flags::dontwait);
      }
    };
    if (starter) dealers[0].send(zmq::str_buffer("start"), zmq::send_flags::none);
    deadline = Clock::now() + std::chrono::seconds(600);
    uint64_t next_sweep = 0;
    epoll_event events[1024];
    while (done < n && Clock::now() < deadline) {
      int k = ::epoll_wait(ep, events, 1024, 5);
      for (int i = 0; i < k; ++i) service(events[i].data.u64);
      if (NowNs() >= next_sweep) {
        for (size_t i = 0; i < n; ++i) service(i);
        next_sweep = NowNs() + 50'000'000;
      }
    }
    ::close(ep);
    if (done < n) ::_exit(1);
    parent.Send("done " + std::to_string(last));
  }
  ::_exit(0);
}

// A raw ROUTER (CURVE server, no ZAP, no Switchboard) in a child process sends `sizes` (one
// message each, the bytes shared, as the broker sends a projection) to each of N CURVE
// DEALERs here. Returns the seconds from the start signal until every DEALER has all bytes.
Result<double> RawCurveFanout(size_t n, size_t processes, const std::vector<size_t>& sizes,
                              std::ostream* progress) {
  char server_public[41], server_secret[41];
  zmq_curve_keypair(server_public, server_secret);
  int port_pipe[2];
  if (::pipe(port_pipe) != 0) return Status::IoError("pipe failed");
  pid_t child = ::fork();
  if (child < 0) return Status::IoError("fork failed");
  if (child == 0) {
    ::close(port_pipe[0]);
    zmq::context_t ctx(2);
    ctx.set(zmq::ctxopt::max_sockets, 65535);
    zmq::socket_t router(ctx, zmq::socket_type::router);
    int one = 1, hwm = 1 << 20;
    zmq_setsockopt(router.handle(), ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt(router.handle(), ZMQ_CURVE_SECRETKEY, server_secret, 40);
    zmq_setsockopt(router.handle(), ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(router.handle(), ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    router.bind("tcp://127.0.0.1:*");
    std::string ep = router.get(zmq::sockopt::last_endpoint);
    (void)!::write(port_pipe[1], ep.data(), ep.size());
    ::close(port_pipe[1]);
    std::vector<std::string> peers;
    auto payloads = std::make_shared<std::vector<std::string>>();
    for (size_t s : sizes) payloads->emplace_back(s, 'x');
    for (;;) {
      zmq::message_t id, body;
      if (!router.recv(id)) ::_exit(1);
      (void)router.recv(body);
      std::string what(static_cast<const char*>(body.data()), body.size());
      if (what == "ready") {
        peers.emplace_back(static_cast<const char*>(id.data()), id.size());
        router.send(zmq::buffer(peers.back()), zmq::send_flags::sndmore);
        router.send(zmq::str_buffer("ok"));
      } else if (what == "start") {
        break;
      }
    }
    for (const std::string& p : *payloads) {
      for (const std::string& peer : peers) {
        auto* hold = new std::shared_ptr<std::vector<std::string>>(payloads);
        zmq::message_t body(
            const_cast<char*>(p.data()), p.size(),
            [](void*, void* h) {
              delete static_cast<std::shared_ptr<std::vector<std::string>>*>(h);
            },
            hold);
        router.send(zmq::buffer(peer), zmq::send_flags::sndmore);
        router.send(body, zmq::send_flags::none);
      }
    }
    // Until every DEALER says it has everything.
    for (size_t done = 0; done < peers.size();) {
      zmq::message_t id, body;
      if (!router.recv(id)) break;
      (void)router.recv(body);
      done += body.size() == 4;  // "done"
    }
    ::_exit(0);
  }
  ::close(port_pipe[1]);
  char buf[256];
  ssize_t got = ::read(port_pipe[0], buf, sizeof buf);
  ::close(port_pipe[0]);
  if (got <= 0) return Status::IoError("the raw server did not start");
  std::string endpoint(buf, static_cast<size_t>(got));
  uint64_t total = 0;
  for (size_t s : sizes) total += s;
  // The DEALERs, shared among `processes` processes as the swarm's clients are.
  std::vector<Worker> dealers;
  auto stop = [&](Status s) {
    ::kill(child, SIGKILL);
    Wait(child);
    for (Worker& d : dealers) {
      ::kill(d.pid, SIGKILL);
      Wait(d.pid);
    }
    return s;
  };
  for (size_t k = 0; k < processes; ++k) {
    size_t count = (k + 1) * n / processes - k * n / processes;
    Result<Worker> w = ForkChild(
        [&](int fd) { RawDealers(fd, count, endpoint, server_public, total, /*starter=*/k == 0); });
    if (!w.ok()) return stop(w.status());
    dealers.push_back(std::move(w).value());
  }
  // Every DEALER connected and greeted; then "go" (the first process's first DEALER tells the
  // ROUTER to start, last, so that every other process is already reading).
  auto await = [&](const std::string& word, uint64_t timeout_s) {
    uint64_t deadline = NowNs() + timeout_s * 1'000'000'000;
    for (Worker& d : dealers) d.reply.reset();
    for (;;) {
      bool all = true;
      for (Worker& d : dealers) {
        bool closed = false;
        while (!d.reply) {
          std::optional<std::string> line = d.channel.Poll(&closed);
          if (!line) break;
          if (line->rfind(word, 0) == 0) d.reply = line->substr(word.size());
        }
        if (closed && !d.reply) return false;
        all = all && d.reply.has_value();
      }
      if (all) return true;
      if (NowNs() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  };
  if (!await("connected", 180)) {
    return stop(Status::Unavailable("the raw CURVE clients did not all connect"));
  }
  if (progress) {
    *progress << "raw CURVE fan-out to " << n << " DEALERs"
              << (processes > 1 ? " in " + std::to_string(processes) + " processes" : std::string())
              << "...\n";
  }
  uint64_t t0 = 0;
  for (size_t k = dealers.size(); k-- > 0;) {
    if (k == 0) t0 = NowNs();
    dealers[k].channel.Send("go");
  }
  if (!await("done ", 600)) {
    return stop(Status::Unavailable("the raw CURVE fan-out did not finish"));
  }
  uint64_t last = t0;
  for (Worker& d : dealers) last = std::max<uint64_t>(last, std::stoull(*d.reply));
  for (Worker& d : dealers) Wait(d.pid);
  Wait(child);
  return static_cast<double>(last - t0) / 1e9;
}

// ---------- the import ----------

// The directory as the deltas a maintainer's agent would push: chunks of 256 records.
Result<std::vector<Delta>> ImportDeltas(const std::string& file, size_t max_records,
                                        ReplicaId replica, size_t* records) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return Status::NotFound("cannot read " + file +
                            " (generate it: python3 examples/data/generate.py --out " + file + ")");
  }
  std::string text((std::istreambuf_iterator<char>(in)), {});
  ASSIGN_OR_RETURN(json doc, ParseJson(text, file, JsonLimits{text.size(), 64}));
  Result<std::vector<RecordEdit>> edits = HsdsEditsOrError(FieldSchema::Hsds(), doc);
  if (!edits.ok()) return edits.status().WithContext(file);
  if (max_records > 0 && edits->size() > max_records) edits->resize(max_records);
  *records = edits->size();
  Hlc stamp = Hlc::Make(WallMs(), 1);
  std::vector<Delta> out;
  Directory state;
  Delta chunk{replica, stamp, {}};
  for (const RecordEdit& e : *edits) {
    ASSIGN_OR_RETURN(PlannedEdit plan,
                     PlanEdit(FieldSchema::Hsds(), state.Find(e.id), e, replica, stamp));
    if (plan.empty()) continue;
    state.Join(plan.delta);
    chunk.records.push_back(std::move(plan.delta));
    if (chunk.records.size() == 256) {
      out.push_back(std::move(chunk));
      chunk = Delta{replica, stamp, {}};
    }
  }
  if (!chunk.records.empty()) out.push_back(std::move(chunk));
  return out;
}

struct BrokerApi {
  int port = 0;
  std::string token;
  json Status() const {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(5);
    c.set_read_timeout(30);
    auto r = c.Get("/v1/status", {{"Authorization", "Bearer " + token}});
    if (!r || r->status != 200) return nullptr;
    return ParseStoredJson(r->body, kReplyLimits);
  }
};

uint64_t U64(const json& j, const char* k) {
  return j.is_object() && j.contains(k) && j[k].is_number_unsigned() ? j[k].get<uint64_t>() : 0;
}

}  // namespace

int RunSwarmBench(const SwarmBenchOptions& o, std::ostream& out, std::ostream* progress) {
  auto fail = [&](const std::string& why) {
    out << "bench swarm: " << why << "\n";
    return 1;
  };
  if (o.agents == 0) {
    out << "bench swarm: --agents must be at least 1\n";
    return 2;
  }
  if (sodium_init() < 0) return fail("libsodium failed to initialise");
  // Every client holds two descriptors (its connection and its socket's mailbox); beyond what
  // one process may hold, the clients are shared among worker processes.
  size_t fds = RaiseFileLimit(o.agents * 2 + 512);
  size_t per_process = fds > 512 ? (fds - 256) / 2 : 0;
  size_t processes = o.processes;
  if (processes == 0 && per_process > 0) processes = (o.agents + 1 + per_process - 1) / per_process;
  if (processes > o.agents) {
    out << "bench swarm: --processes may not exceed --agents\n";
    return 2;
  }
  if (per_process == 0 || (o.agents + 1 + processes - 1) / processes > per_process) {
    return fail("the open-file limit is " + std::to_string(fds) + "; " + std::to_string(o.agents) +
                " clients in " + std::to_string(std::max<size_t>(processes, 1)) +
                " process(es) need about " + std::to_string(2 * o.agents + 256) +
                " in all (raise it: ulimit -n, or give --processes)");
  }
  std::string binary = o.binary.empty() ? SelfBinary() : o.binary;
  std::string directory = o.directory.empty() ? "examples/data/directory.json" : o.directory;
  std::string base = o.dir.empty() ? (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp") : o.dir;
  std::string root = base + "/sb-swarm-" + std::to_string(::getpid());
  std::string broker_dir = root + "/broker";
  std::string log = root + "/broker.log";
  ::mkdir(root.c_str(), 0700);
  auto say = [&](const std::string& line) {
    if (progress) *progress << line << "\n";
  };

  // The broker's data directory, and every client enrolled before it starts.
  if (Wait(Spawn({binary, "init", "--broker", "--data", broker_dir, "--org", "coordinator"},
                 log)) != 0) {
    return fail("switchboard init --broker failed; see " + log);
  }
  Result<Identity> broker_id = Identity::Load(broker_dir);
  if (!broker_id.ok()) return fail(broker_id.status().ToString());
  say("enrolling " + std::to_string(o.agents) + " partners and a maintainer...");
  std::vector<Identity> ids;
  ids.reserve(o.agents + 1);
  {
    StoreOptions so;
    so.sync = false;  // set-up only; the broker syncs its own writes
    Result<DataDir> dd = DataDir::OpenOrCreate(broker_dir, "broker", so);
    if (!dd.ok()) return fail(dd.status().ToString());
    Roster roster(dd->store.get());
    if (Status s = roster.Load(); !s.ok()) return fail(s.ToString());
    for (size_t i = 0; i <= o.agents; ++i) {
      Result<Identity> id = Identity::Generate(i == o.agents ? OrgOf(0xffffff) : OrgOf(i));
      if (!id.ok()) return fail(id.status().ToString());
      Role role = i == o.agents ? Role::kMaintainer : Role::kPartner;
      if (Status s = roster.Enroll(id->pub, role, WallMs()); !s.ok()) return fail(s.ToString());
      ids.push_back(std::move(id).value());
    }
  }
  ReplicaId maintainer_replica = RandomReplica();
  size_t records = 0;
  Result<std::vector<Delta>> deltas =
      ImportDeltas(directory, o.records, maintainer_replica, &records);
  if (!deltas.ok()) return fail(deltas.status().ToString());

  pid_t broker = Spawn({binary, "broker", "--data", broker_dir, "--listen", "tcp://127.0.0.1:*",
                        "--api", "127.0.0.1:0"},
                       log);
  BrokerApi api;
  std::string endpoint;
  for (int i = 0; i < 400 && endpoint.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    std::ifstream f(broker_dir + "/broker.json");
    json j = ParseStoredJson(std::string((std::istreambuf_iterator<char>(f)), {}));
    if (!j.is_object() || j.value("pid", -1) != broker) continue;
    std::string a = j.value("api", "");
    api.port = std::atoi(a.substr(a.rfind(':') + 1).c_str());
    endpoint = j.value("listen", "");
  }
  if (endpoint.empty()) return fail("the broker did not start; see " + log);
  {
    std::ifstream t(broker_dir + "/api.token");
    std::getline(t, api.token);
  }
  ProcUsage idle = Usage(broker);
  json summary;
  std::vector<size_t> sizes;
  int code = 0;
  {
    SwarmConfig config{broker_id->pub.curve_public, broker_id->pub.sign_public, endpoint,
                       o.window_bytes};
    say("connecting " + std::to_string(o.agents) + " clients over CURVE" +
        (processes > 1 ? " from " + std::to_string(processes) + " processes" : std::string()) +
        "...");
    uint64_t t_connect = NowNs();
    // This process keeps the first share of partners and the maintainer.
    std::vector<Worker> workers;
    for (size_t k = 1; k < processes; ++k) {
      Result<Worker> w = ForkChild([&](int fd) {
        RunWorker(fd, config, ids, k * o.agents / processes, (k + 1) * o.agents / processes);
      });
      if (!w.ok()) return fail(w.status().ToString());
      workers.push_back(std::move(w).value());
    }
    zmq::context_t ctx(1);
    ctx.set(zmq::ctxopt::max_sockets, 65535);
    Swarm swarm(ctx, config.broker_curve, config.broker_sign, endpoint, o.window_bytes);
    for (size_t i = 0; i < o.agents / processes; ++i) {
      if (Status s = swarm.Add(ids[i], false, RandomReplica()); !s.ok()) return fail(s.ToString());
    }
    if (Status s = swarm.Add(ids[o.agents], true, maintainer_replica); !s.ok()) {
      return fail(s.ToString());
    }
    auto& clients = swarm.clients();
    std::string why;
    bool connected = AwaitWorkers(
        swarm, workers, "", "ready", [&] { return swarm.all_ready(); }, 600'000, &why);
    double connect_s = static_cast<double>(NowNs() - t_connect) / 1e9;
    if (!connected) {
      return fail("not every client was welcomed and had the roster within 600 s" +
                  (why.empty() ? "" : ": " + why) + "; see " + log);
    }
    ProcUsage held = Usage(broker);
    say("all welcomed in " + std::to_string(connect_s) + " s; importing " +
        std::to_string(records) + " records...");

    // The import, pushed by the maintainer client as its agent would: one batch in flight.
    SwarmClient& m = swarm.maintainer();
    Directory pushed;  // what the maintainer wrote (its own writes are not echoed back)
    for (const Delta& d : *deltas) pushed.Join(d);
    swarm.record_sizes = true;
    ProcUsage before_import = Usage(broker);
    uint64_t t_import = NowNs();
    uint64_t batch = 0;
    size_t next = 0;
    uint64_t import_head = 0;
    while (next < deltas->size()) {
      proto::Push push{++batch, {}};
      size_t bytes = 0;
      while (next < deltas->size() && push.items.size() < 128 && bytes < (8 << 20)) {
        std::string enc = EncodeDelta((*deltas)[next]);
        bytes += enc.size();
        push.items.push_back(proto::PushItem{
            next + 1, proto::SignedDelta{enc, m.id.pub.org, m.id.pub.org, Sign(m.id, enc)}});
        ++next;
      }
      size_t acks = m.acks.size();
      swarm.Send(m, push);
      if (!swarm.RunUntil([&] { return m.acks.size() > acks; }, o.import_timeout_s * 1000)) {
        return fail("the broker did not acknowledge the import; see " + log);
      }
      for (const proto::PushResult& r : m.acks.back().results) {
        if (!r.accepted) return fail("the broker refused an import delta: " + r.reason);
        import_head = std::max(import_head, r.log_seq);
      }
    }
    // The broker publishes a maintainer's writes in entries of its own: wait for the head.
    json st = api.Status();
    import_head = std::max(import_head, U64(st, "log_head"));
    swarm.set_target(import_head);
    bool arrived = AwaitWorkers(
        swarm, workers, "target " + std::to_string(import_head), "reached",
        [&] { return swarm.all_reached(); }, o.import_timeout_s * 1000, &why);
    double import_s = static_cast<double>(NowNs() - t_import) / 1e9;
    swarm.record_sizes = false;
    sizes = swarm.message_sizes;
    ProcUsage after_import = Usage(broker);
    if (!arrived) {
      std::map<uint64_t, size_t> cursors;
      uint64_t stuck_messages = 0;
      for (auto& c : clients) {
        ++cursors[c->cursor];
        if (c->cursor < import_head) stuck_messages += c->messages_in;
      }
      if (why.empty() && AwaitWorkers(
                             swarm, workers, "stats", "stats", [] { return true; }, 60'000, &why)) {
        for (Worker& w : workers) {
          json j = ParseStoredJson(*w.reply, JsonLimits{w.reply->size(), 16});
          if (!j.is_object()) continue;
          for (auto& [cur, k] : j["cursors"].items()) cursors[std::stoull(cur)] += k.get<size_t>();
        }
      }
      std::string dist;
      for (auto& [cur, k] : cursors) dist += " " + std::to_string(cur) + ":" + std::to_string(k);
      return fail("the directory did not reach every client (cursor:clients" + dist +
                  "; messages received by those behind in this process: " +
                  std::to_string(stuck_messages) + ")" + (why.empty() ? "" : "; " + why));
    }
    say("the directory reached all " + std::to_string(o.agents) + " clients in " +
        std::to_string(import_s) + " s");

    // Single edits: the maintainer changes one description; time until each client has it.
    std::vector<double> to_all_ms, per_client_ms;
    const Record* target = nullptr;
    Directory mstate = pushed;
    for (const auto& d : m.replica_log) mstate.Join(*d);
    for (const auto& [id, r] : mstate.records()) {
      if (r.kind() == "organization") {
        target = &r;
        break;
      }
    }
    if (!target) return fail("the directory has no organization to edit");
    Record edited = *target;
    for (int e = 0; e < o.edits; ++e) {
      Hlc stamp = Hlc::Make(WallMs(), static_cast<uint16_t>(e + 2));
      Record d =
          edited.WriteDelta("description", Value("edit " + std::to_string(e)), m.replica, stamp);
      edited.Join(d);
      pushed.Join(d);
      std::string enc = EncodeDelta(Delta{m.replica, stamp, {d}});
      size_t acks = m.acks.size();
      uint64_t t0 = NowNs();
      swarm.Send(m, proto::Push{++batch,
                                {proto::PushItem{next + 1 + static_cast<size_t>(e),
                                                 proto::SignedDelta{enc, m.id.pub.org, m.id.pub.org,
                                                                    Sign(m.id, enc)}}}});
      if (!swarm.RunUntil([&] { return m.acks.size() > acks; }, 60'000)) {
        return fail("an edit was not acknowledged; see " + log);
      }
      uint64_t seq = m.acks.back().results.empty() ? 0 : m.acks.back().results[0].log_seq;
      if (seq == 0)
        return fail("an edit was refused: " + (m.acks.back().results.empty()
                                                   ? std::string("throttled")
                                                   : m.acks.back().results[0].reason));
      swarm.set_target(seq);
      if (!AwaitWorkers(
              swarm, workers, "target " + std::to_string(seq), "reached",
              [&] { return swarm.all_reached(); }, 120'000, &why)) {
        return fail("an edit did not reach every client within 120 s" +
                    (why.empty() ? "" : ": " + why));
      }
      uint64_t last = 0;
      auto reached_at = [&](uint64_t ns) {
        per_client_ms.push_back(static_cast<double>(ns - t0) / 1e6);
        last = std::max(last, ns);
      };
      for (auto& c : clients) {
        if (c.get() != &m) reached_at(c->reached_ns);
      }
      for (Worker& w : workers) {  // "S NS NS ..."
        std::istringstream in(*w.reply);
        uint64_t s = 0, ns = 0;
        in >> s;
        while (in >> ns) reached_at(ns);
      }
      to_all_ms.push_back(static_cast<double>(last - t0) / 1e6);
    }
    // Hold: heartbeats only; nothing may restart.
    uint64_t restarts_before = U64(api.Status(), "session_restarts");
    if (o.hold_s > 0) {
      say("holding the sessions for " + std::to_string(o.hold_s) + " s...");
      swarm.RunUntil([] { return false; }, o.hold_s * 1000);
      // And one more edit must still reach every client.
      Hlc stamp = Hlc::Make(WallMs(), 1);
      Record d =
          edited.WriteDelta("description", Value(std::string("after the hold")), m.replica, stamp);
      edited.Join(d);
      pushed.Join(d);
      std::string enc = EncodeDelta(Delta{m.replica, stamp, {d}});
      size_t acks = m.acks.size();
      swarm.Send(m, proto::Push{++batch,
                                {proto::PushItem{next + 1000,
                                                 proto::SignedDelta{enc, m.id.pub.org, m.id.pub.org,
                                                                    Sign(m.id, enc)}}}});
      swarm.RunUntil([&] { return m.acks.size() > acks; }, 60'000);
      uint64_t seq = m.acks.size() > acks && !m.acks.back().results.empty()
                         ? m.acks.back().results[0].log_seq
                         : 0;
      if (seq > 0) swarm.set_target(seq);
      bool reached = seq > 0 && AwaitWorkers(
                                    swarm, workers, "target " + std::to_string(seq), "reached",
                                    [&] { return swarm.all_reached(); }, 120'000, &why);
      summary["hold"] = {{"seconds", o.hold_s}, {"edit_after_hold_reached_all", reached}};
    }
    json final_status = api.Status();
    ProcUsage end = Usage(broker);

    // What each partner needed: the directory's state as partners read it, and the roster.
    Directory partner_view;
    for (const auto& d : clients.front()->replica_log) partner_view.Join(*d);
    mstate = pushed;
    for (const auto& d : m.replica_log) mstate.Join(*d);
    Directory expect;
    {
      bool filtered = false;
      expect.Join(FilterFor(
          mstate.AsDelta(1, Hlc{}), kNoOrganization, Role::kPartner,
          [&](const std::string& id) { return mstate.Find(id); }, &filtered));
    }
    bool converged = true;
    auto check = [&](const Directory& v) {
      converged = converged && v.records().size() == expect.records().size();
      for (const auto& [id, r] : expect.records()) {
        const Record* got = v.Find(id);
        converged = converged && got && got->fields() == r.fields();
      }
    };
    for (size_t i : {size_t{0}, clients.size() / 2, clients.size() - 2}) {
      Directory v;
      for (const auto& d : clients[i]->replica_log) v.Join(*d);
      check(v);
    }
    // The sums over every share, and one replica from each worker.
    json totals = ShareStats(swarm);
    if (!AwaitWorkers(
            swarm, workers, "stats", "stats", [] { return true; }, 120'000, &why)) {
      return fail("the worker processes did not report" + (why.empty() ? "" : ": " + why));
    }
    for (Worker& w : workers) {
      json j = ParseStoredJson(*w.reply, JsonLimits{w.reply->size(), 16});
      if (!j.is_object() || !j["replica"].is_string())
        return fail("a worker's report is unreadable");
      for (const char* k :
           {"bytes_in", "hellos", "started_over", "refusals", "rejected", "rewinds", "distinct"}) {
        totals[k] = totals[k].get<uint64_t>() + j[k].get<uint64_t>();
      }
      Result<std::string> bytes = FromHex(j["replica"].get<std::string>());
      Result<Delta> replica = bytes.ok() ? DecodeDelta(*bytes) : Result<Delta>(bytes.status());
      Directory v;
      if (replica.ok()) v.Join(*replica);
      check(v);
    }
    for (Worker& w : workers) w.channel.Send("quit");
    for (Worker& w : workers) Wait(w.pid);
    size_t state_bytes = EncodeDelta(partner_view.AsDelta(1, Hlc{})).size();
    uint64_t hellos = totals["hellos"], refusals = totals["refusals"],
             rejected = totals["rejected"], started_over = totals["started_over"];
    double mean_in = totals["bytes_in"].get<double>() / static_cast<double>(o.agents);
    size_t roster_bytes = 0;
    {
      proto::Roster r;
      for (const Identity& id : ids) {
        r.entries.push_back(proto::RosterEntry{
            id.pub.org, Role::kPartner, id.pub.sign_public, id.pub.box_public, false, {}});
      }
      roster_bytes = proto::EncodeEnvelope(r).size();
    }
    uint64_t dir_bytes_sent = 0;
    for (size_t s : sizes) dir_bytes_sent += s;
    summary["agents"] = o.agents;
    summary["records"] = records;
    summary["connect_s"] = connect_s;
    summary["import_s"] = import_s;
    summary["import_messages_per_agent"] = sizes.size();
    summary["import_bytes_per_agent"] = dir_bytes_sent;
    summary["edit_to_all_ms"] = {{"p50", Percentile(to_all_ms, 50)},
                                 {"p99", Percentile(to_all_ms, 99)},
                                 {"max", Percentile(to_all_ms, 100)},
                                 {"edits", to_all_ms.size()}};
    summary["edit_per_agent_ms"] = {{"p50", Percentile(per_client_ms, 50)},
                                    {"p99", Percentile(per_client_ms, 99)}};
    summary["bytes_per_agent"] = mean_in;
    summary["state_bytes"] = state_bytes;
    summary["roster_bytes"] = roster_bytes;
    summary["bytes_over_needed"] = mean_in / static_cast<double>(state_bytes + roster_bytes);
    summary["broker"] = {
        {"cpu_s_import", after_import.cpu_s - before_import.cpu_s},
        {"cpu_s_total", end.cpu_s - idle.cpu_s},
        {"rss_idle_mb", idle.rss / 1048576.0},
        {"rss_connected_mb", held.rss / 1048576.0},
        {"rss_end_mb", end.rss / 1048576.0},
        {"rss_peak_mb", end.peak_rss / 1048576.0},
        {"rss_per_session_kb", (static_cast<double>(held.rss) - idle.rss) / 1024.0 / o.agents},
        {"sessions", U64(final_status, "sessions")},
        {"session_restarts", U64(final_status, "session_restarts")},
        {"sessions_dropped", U64(final_status, "sessions_dropped")},
        {"session_restarts_during_hold", U64(final_status, "session_restarts") - restarts_before},
        {"hellos", U64(final_status, "hellos")},
        {"rewinds", U64(final_status, "rewinds")},
        {"projections_made", U64(final_status, "projections_made")},
        {"projections_reused", U64(final_status, "projections_reused")},
        {"checkpoints_built", U64(final_status, "checkpoints_built")},
        {"group_commits", U64(final_status, "group_commits")}};
    summary["clients"] = {{"hellos", hellos},
                          {"started_over", started_over},
                          {"refusals", refusals},
                          {"rejected_entries", rejected},
                          {"rewinds", totals["rewinds"]},
                          {"distinct_signed_deltas_verified", totals["distinct"]},
                          {"processes", processes}};
    summary["converged"] = converged;
    if (!converged) code = 1;
  }
  // The raw ceiling, with the same N and the same messages.
  double raw_s = 0;
  if (!o.skip_raw && !sizes.empty()) {
    Result<double> raw = RawCurveFanout(o.agents, processes, sizes, progress);
    if (!raw.ok()) return fail(raw.status().ToString());
    raw_s = *raw;
  }
  ::kill(broker, SIGTERM);
  Wait(broker);
  uint64_t dir_bytes = summary["import_bytes_per_agent"].get<uint64_t>();
  summary["raw_curve"] = {
      {"shape",
       "one CURVE ROUTER process to N CURVE DEALERs in as many processes as the swarm's "
       "clients, the same N and the "
       "same message sizes as the import, each message's bytes shared"},
      {"fanout_s", raw_s},
      {"bytes_per_s", raw_s > 0 ? static_cast<double>(dir_bytes) * o.agents / raw_s : 0}};
  summary["import_over_raw"] = raw_s > 0 ? summary["import_s"].get<double>() / raw_s : 0;
  std::string cmd = "rm -rf '" + root + "'";
  (void)!std::system(cmd.c_str());
  if (o.json) {
    out << DumpJson(summary, 2) << "\n";
    return code;
  }
  auto f = [](double v, int prec = 2) {
    std::ostringstream s;
    s.setf(std::ios::fixed);
    s.precision(prec);
    s << v;
    return s.str();
  };
  const json& b = summary["broker"];
  out << "bench swarm: " << o.agents << " partner clients (+1 maintainer) in "
      << (processes == 1 ? std::string("one process") : std::to_string(processes) + " processes")
      << " against a real broker process; CURVE over loopback TCP\n"
      << "  directory: " << records << " records, "
      << f(summary["state_bytes"].get<double>() / 1048576.0)
      << " MiB encoded as partners read it; roster "
      << f(summary["roster_bytes"].get<double>() / 1048576.0) << " MiB\n"
      << "  connect, welcome, roster, all      " << f(summary["connect_s"].get<double>()) << " s\n"
      << "  directory import to all clients    " << f(summary["import_s"].get<double>()) << " s\n"
      << "  raw CURVE fan-out, same shape      " << f(raw_s) << " s  ("
      << f(summary["raw_curve"]["bytes_per_s"].get<double>() / 1048576.0, 0) << " MiB/s)\n"
      << "  ratio (import / raw)               " << f(summary["import_over_raw"].get<double>())
      << "\n"
      << "  single edit to all clients         p50 "
      << f(summary["edit_to_all_ms"]["p50"].get<double>(), 1) << " ms  p99 "
      << f(summary["edit_to_all_ms"]["p99"].get<double>(), 1) << " ms  (" << o.edits << " edits)\n"
      << "  bytes received per agent           "
      << f(summary["bytes_per_agent"].get<double>() / 1048576.0)
      << " MiB = " << f(summary["bytes_over_needed"].get<double>())
      << "x the state + roster it needed\n"
      << "  broker CPU                         " << f(b["cpu_s_import"].get<double>())
      << " s for the import, " << f(b["cpu_s_total"].get<double>()) << " s in all\n"
      << "  broker RSS                         " << f(b["rss_idle_mb"].get<double>(), 0)
      << " MiB idle, " << f(b["rss_connected_mb"].get<double>(), 0) << " MiB with the sessions ("
      << f(b["rss_per_session_kb"].get<double>(), 1) << " KiB each), "
      << f(b["rss_end_mb"].get<double>(), 0) << " MiB at the end, "
      << f(b["rss_peak_mb"].get<double>(), 0) << " MiB at the peak\n"
      << "  session restarts                   " << b["session_restarts"] << " (hellos "
      << b["hellos"] << ", rewinds " << b["rewinds"] << ")\n"
      << "  sessions dropped (peer gone)       " << b["sessions_dropped"]
      << " (clients that started over: " << summary["clients"]["started_over"] << ")\n"
      << "  fan-out projections                " << b["projections_made"] << " made, "
      << b["projections_reused"] << " reused; checkpoints " << b["checkpoints_built"] << "\n"
      << "  converged                          "
      << (summary["converged"].get<bool>() ? "yes" : "NO") << "\n";
  if (summary.contains("hold")) {
    out << "  held " << o.hold_s << " s: sessions " << b["sessions"]
        << ", restarts during the hold " << b["session_restarts_during_hold"]
        << ", an edit after it reached all: "
        << (summary["hold"]["edit_after_hold_reached_all"].get<bool>() ? "yes" : "NO") << "\n";
  }
  return code;
}

}  // namespace sb::bench
