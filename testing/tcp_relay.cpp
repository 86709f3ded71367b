#include "testing/tcp_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace sb::testing {

namespace {

constexpr size_t kMaxPending = 1 << 20;  // per direction; reading pauses above it
constexpr size_t kChunk = 64 << 10;

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// A listening socket on 127.0.0.1:port (0: any); the port it got.
Result<int> Listen(int port, int* fd_out) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Status::IoError(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr = Loopback(port);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 128) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd);
    return Status::IoError("relay: cannot listen on 127.0.0.1:" + std::to_string(port) + ": " +
                           why);
  }
  *fd_out = fd;
  return static_cast<int>(ntohs(addr.sin_port));
}

struct Conn {
  int client = -1, server = -1;
  bool connecting = true;  // the non-blocking connect to the target is in progress
  std::string up, down;    // bytes read from the client (for the target), and back
  bool client_eof = false, server_eof = false;
};

}  // namespace

struct TcpRelay::Loop {
  Mutex mu;
  CondVar cv;
  Mode requested GUARDED_BY(mu) = Mode::kOpen;
  uint64_t request_gen GUARDED_BY(mu) = 0;
  uint64_t applied_gen GUARDED_BY(mu) = 0;
  Status apply_status GUARDED_BY(mu);
  Mode mode GUARDED_BY(mu) = Mode::kOpen;
  bool stop GUARDED_BY(mu) = false;
  Stats stats GUARDED_BY(mu);

  int wake[2] = {-1, -1};
  // The relay thread's own.
  int listen_fd = -1;
  int port = 0, target = 0;
  std::vector<Conn> conns;

  void Wake() {
    char c = 1;
    [[maybe_unused]] ssize_t n = ::write(wake[1], &c, 1);
  }
  void Run();
  void Accept();
  // Moves bytes for one connection; false when it is finished (to be closed).
  bool Pump(Conn& c, short client_events, short server_events, uint64_t* bytes);
  void CloseAll(uint64_t* cut) {
    for (Conn& c : conns) {
      CloseFd(c.client);
      CloseFd(c.server);
    }
    if (cut) *cut += conns.size();
    conns.clear();
  }
};

Result<std::unique_ptr<TcpRelay>> TcpRelay::Start(int target_port, int listen_port) {
  std::unique_ptr<TcpRelay> relay(new TcpRelay());
  relay->loop_ = std::make_unique<Loop>();
  Loop& loop = *relay->loop_;
  if (::pipe2(loop.wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Status::IoError(std::string("relay: pipe: ") + std::strerror(errno));
  }
  ASSIGN_OR_RETURN(int port, Listen(listen_port, &loop.listen_fd));
  relay->port_ = loop.port = port;
  relay->target_port_ = loop.target = target_port;
  relay->thread_ = std::thread([&loop] { loop.Run(); });
  return relay;
}

TcpRelay::~TcpRelay() {
  if (!loop_) return;
  {
    MutexLock lock(loop_->mu);
    loop_->stop = true;
  }
  loop_->Wake();
  if (thread_.joinable()) thread_.join();
  loop_->CloseAll(nullptr);
  CloseFd(loop_->listen_fd);
  CloseFd(loop_->wake[0]);
  CloseFd(loop_->wake[1]);
}

const char* TcpRelay::ModeName(Mode m) {
  switch (m) {
    case Mode::kOpen:
      return "open";
    case Mode::kPartitioned:
      return "partitioned";
    case Mode::kStalled:
      return "stalled";
  }
  return "?";
}

Status TcpRelay::SetMode(Mode m) {
  uint64_t gen = 0;
  {
    MutexLock lock(loop_->mu);
    loop_->requested = m;
    gen = ++loop_->request_gen;
  }
  loop_->Wake();
  MutexLock lock(loop_->mu);
  loop_->cv.Wait(loop_->mu,
                 [&]() REQUIRES(loop_->mu) { return loop_->applied_gen >= gen || loop_->stop; });
  return loop_->apply_status;
}

void TcpRelay::Partition() {
  (void)SetMode(Mode::kPartitioned);
}

void TcpRelay::Stall() {
  (void)SetMode(Mode::kStalled);
}

Status TcpRelay::Heal() {
  return SetMode(Mode::kOpen);
}

TcpRelay::Mode TcpRelay::mode() const {
  MutexLock lock(loop_->mu);
  return loop_->mode;
}

TcpRelay::Stats TcpRelay::stats() const {
  MutexLock lock(loop_->mu);
  return loop_->stats;
}

void TcpRelay::Loop::Accept() {
  for (;;) {
    int client = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client < 0) return;  // EAGAIN, or a connection that went away meanwhile
    int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    bool refused = server < 0;
    if (!refused) {
      sockaddr_in addr = Loopback(target);
      int rc = ::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      refused = rc != 0 && errno != EINPROGRESS;
    }
    MutexLock lock(mu);
    stats.accepted++;
    if (refused) {
      stats.target_refused++;
      ::close(client);
      if (server >= 0) ::close(server);
      continue;
    }
    Conn c;
    c.client = client;
    c.server = server;
    conns.push_back(std::move(c));
  }
}

namespace {

// Reads what `fd` has into `buf` (up to the cap); false on an error. Sets *eof at its end.
bool ReadInto(int fd, std::string& buf, bool* eof) {
  char chunk[kChunk];
  while (buf.size() < kMaxPending) {
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n > 0) {
      buf.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      *eof = true;
      return true;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  }
  return true;
}

// Writes what it can of `buf` to `fd`; false on an error. Counts the bytes written.
bool WriteFrom(int fd, std::string& buf, uint64_t* bytes) {
  while (!buf.empty()) {
    ssize_t n = ::send(fd, buf.data(), buf.size(), MSG_NOSIGNAL);
    if (n > 0) {
      buf.erase(0, static_cast<size_t>(n));
      *bytes += static_cast<uint64_t>(n);
      continue;
    }
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
  }
  return true;
}

}  // namespace

bool TcpRelay::Loop::Pump(Conn& c, short client_events, short server_events, uint64_t* bytes) {
  if (client_events & (POLLIN | POLLHUP | POLLERR)) {
    if (!ReadInto(c.client, c.up, &c.client_eof)) return false;
  }
  if (server_events & (POLLIN | POLLHUP | POLLERR)) {
    if (!ReadInto(c.server, c.down, &c.server_eof)) return false;
  }
  if (!WriteFrom(c.server, c.up, bytes)) return false;
  if (!WriteFrom(c.client, c.down, bytes)) return false;
  // Either side's end, once what it sent has been passed on, ends the pair.
  if (c.client_eof && c.up.empty()) return false;
  if (c.server_eof && c.down.empty()) return false;
  return true;
}

void TcpRelay::Loop::Run() {
  uint64_t applied = 0;
  Mode current = Mode::kOpen;
  for (;;) {
    Mode want = Mode::kOpen;
    uint64_t gen = 0;
    {
      MutexLock lock(mu);
      if (stop) break;
      want = requested;
      gen = request_gen;
    }
    if (gen != applied) {
      Status st;
      uint64_t cut = 0;
      if (want == Mode::kPartitioned) {
        CloseAll(&cut);
        CloseFd(listen_fd);
      } else if (listen_fd < 0) {
        Result<int> bound = Listen(port, &listen_fd);
        if (!bound.ok()) st = bound.status();
      }
      current = (want != Mode::kPartitioned && listen_fd < 0) ? Mode::kPartitioned : want;
      applied = gen;
      MutexLock lock(mu);
      stats.cut += cut;
      mode = current;
      apply_status = st;
      applied_gen = gen;
      cv.NotifyAll();
    }

    std::vector<pollfd> fds;
    fds.push_back({wake[0], POLLIN, 0});
    if (listen_fd >= 0) fds.push_back({listen_fd, POLLIN, 0});
    size_t first_conn = fds.size();
    for (const Conn& c : conns) {
      short ce = 0, se = 0;
      if (c.connecting) {
        se = POLLOUT;
      } else if (current == Mode::kOpen) {
        if (c.up.size() < kMaxPending && !c.client_eof) ce |= POLLIN;
        if (c.down.size() < kMaxPending && !c.server_eof) se |= POLLIN;
        if (!c.up.empty()) se |= POLLOUT;
        if (!c.down.empty()) ce |= POLLOUT;
      }
      // Stalled: nothing asked for; a reset still shows as POLLERR/POLLHUP.
      fds.push_back({c.client, ce, 0});
      fds.push_back({c.server, se, 0});
    }
    int n = ::poll(fds.data(), fds.size(), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents) {
      char buf[64];
      while (::read(wake[0], buf, sizeof buf) > 0) {
      }
    }
    uint64_t bytes = 0, refused = 0;
    std::vector<Conn> kept, dead;
    kept.reserve(conns.size());
    for (size_t i = 0; i < conns.size(); ++i) {
      Conn& c = conns[i];
      short cr = fds[first_conn + 2 * i].revents;
      short sr = fds[first_conn + 2 * i + 1].revents;
      bool alive = true;
      if (c.connecting) {
        if (sr) {
          int err = 0;
          socklen_t len = sizeof err;
          ::getsockopt(c.server, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err != 0) {
            alive = false;
            refused++;
          } else {
            c.connecting = false;
          }
        }
        if (cr & (POLLERR | POLLHUP)) alive = false;
      } else if (current == Mode::kOpen) {
        alive = Pump(c, cr, sr, &bytes);
      } else if ((cr | sr) & (POLLERR | POLLHUP)) {
        alive = false;
      }
      (alive ? kept : dead).push_back(std::move(c));
    }
    conns = std::move(kept);
    if (bytes || refused) {
      MutexLock lock(mu);
      stats.bytes += bytes;
      stats.target_refused += refused;
    }
    // Closed once counted: a client that sees its connection end reads the stats that say why.
    for (Conn& c : dead) {
      CloseFd(c.client);
      CloseFd(c.server);
    }
    if (listen_fd >= 0 && fds.size() > 1 && fds[1].fd == listen_fd && fds[1].revents) Accept();
  }
  MutexLock lock(mu);
  stop = true;
  cv.NotifyAll();
}

}  // namespace sb::testing
