#include "http/http_limits.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace sb {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How often a blocked wait looks whether the server is stopping.
constexpr milliseconds kStopCheck{100};

// Set on the listening thread while it runs a connection it has no room for: the server then
// refuses that connection instead of serving it.
thread_local bool t_refusing = false;

// httplib's TaskQueue for one BoundedHttpServer: at most `max` connections at once, each on a
// thread of its own (started on demand, kept until shutdown). A connection beyond `max` is run
// at once on the caller's (listening) thread with t_refusing set, so it is closed, not queued.
class ConnectionPool final : public httplib::TaskQueue {
 public:
  explicit ConnectionPool(size_t max) : max_(max) {}
  ~ConnectionPool() override { shutdown(); }
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  void enqueue(std::function<void()> fn) override {
    if (Admit(fn)) return;
    t_refusing = true;
    fn();
    t_refusing = false;
  }

  // Lets every thread finish its connection, then joins them (httplib calls this when
  // listening stops).
  void shutdown() override {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      shutdown_ = true;
      threads.swap(threads_);
    }
    cv_.notify_all();
    for (std::thread& t : threads) t.join();
  }

 private:
  // Queues `fn` for a thread when there is room (and moves it away); false otherwise.
  bool Admit(std::function<void()>& fn) {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_ || busy_ >= max_) return false;
    // busy_ counts queued and running connections; there are always at least as many
    // threads, so a queued connection never waits for one.
    if (threads_.size() <= busy_) {
      try {
        threads_.emplace_back([this] { Work(); });
      } catch (const std::system_error&) {
        return false;  // no thread to be had: refuse
      }
    }
    ++busy_;
    jobs_.push_back(std::move(fn));
    cv_.notify_one();
    return true;
  }

  void Work() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return shutdown_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // shutting down, nothing left to serve
      std::function<void()> job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      job = nullptr;
      lock.lock();
      --busy_;
    }
  }

  const size_t max_;
  std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  size_t busy_ = 0;
  bool shutdown_ = false;
};

milliseconds ToMs(time_t sec, time_t usec) {
  return milliseconds(static_cast<int64_t>(sec) * 1000 + static_cast<int64_t>(usec) / 1000);
}

// One accepted connection as httplib reads and writes it, like httplib's own SocketStream but
// with a header deadline: from BeginRequest until the request's empty line has been read, no
// read waits past the deadline. Reads end early when the server stops (`listener` closed).
class DeadlineStream final : public httplib::Stream {
 public:
  DeadlineStream(socket_t sock, const std::atomic<socket_t>& listener, milliseconds read_timeout,
                 milliseconds write_timeout)
      : sock_(sock),
        listener_(listener),
        read_timeout_(read_timeout),
        write_timeout_(write_timeout) {}

  void BeginRequest(Steady::time_point header_deadline) {
    header_deadline_ = header_deadline;
    in_headers_ = true;
    last_ = {0, 0};
  }

  bool is_readable() const override { return off_ < len_ || Wait(POLLIN, read_timeout_); }
  bool is_writable() const override { return Wait(POLLOUT, write_timeout_) && Alive(); }

  ssize_t read(char* ptr, size_t size) override {
    if (size == 0) return 0;
    if (off_ == len_) {
      if (!Wait(POLLIN, read_timeout_)) return -1;
      ssize_t n;
      do {
        n = ::recv(sock_, buffer_.data(), buffer_.size(), 0);
      } while (n < 0 && errno == EINTR);
      if (n <= 0) return n;
      off_ = 0;
      len_ = static_cast<size_t>(n);
    }
    size_t n = std::min(size, len_ - off_);
    std::memcpy(ptr, buffer_.data() + off_, n);
    off_ += n;
    if (in_headers_) Scan(ptr, n);
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    ssize_t n;
    do {
      n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    Address(true, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    Address(false, ip, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  // True once the socket is ready for `events`, polled in slices for up to `timeout`. A read's
  // wait also ends (false) at the header deadline while the headers are incomplete, and when
  // the server stops.
  bool Wait(short events, milliseconds timeout) const {
    const bool reading = events == POLLIN;
    Steady::time_point end = Steady::now() + timeout;
    if (reading && in_headers_ && header_deadline_ < end) end = header_deadline_;
    for (;;) {
      if (reading && listener_ == INVALID_SOCKET) return false;
      Steady::time_point now = Steady::now();
      if (now >= end) return false;
      auto slice = std::min(std::chrono::duration_cast<milliseconds>(end - now), kStopCheck);
      pollfd p{sock_, events, 0};
      int r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(slice.count(), 1)));
      if (r > 0) return true;  // readable, writable, or an error recv/send reports
      if (r < 0 && errno != EINTR) return false;
    }
  }

  // Open unless the peer has closed it (a pending byte is peeked, not consumed).
  bool Alive() const {
    pollfd p{sock_, POLLIN, 0};
    if (::poll(&p, 1, 0) == 0) return true;
    char c = 0;
    return ::recv(sock_, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
  }

  // Marks the headers complete at the empty line that ends them ("\n\r\n", the way httplib
  // reads lines); bytes after it are the body's.
  void Scan(const char* p, size_t n) {
    for (size_t i = 0; i < n && in_headers_; ++i) {
      if (last_[0] == '\n' && last_[1] == '\r' && p[i] == '\n') in_headers_ = false;
      last_ = {last_[1], p[i]};
    }
  }

  void Address(bool peer, std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    auto* a = reinterpret_cast<sockaddr*>(&addr);
    if ((peer ? ::getpeername(sock_, a, &len) : ::getsockname(sock_, a, &len)) != 0) return;
    std::array<char, NI_MAXHOST> host{};
    if (::getnameinfo(a, len, host.data(), host.size(), nullptr, 0, NI_NUMERICHOST) == 0) {
      ip = host.data();
    }
    if (addr.ss_family == AF_INET6) {
      port = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    } else if (addr.ss_family == AF_INET) {
      port = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    }
  }

  const socket_t sock_;
  const std::atomic<socket_t>& listener_;
  const milliseconds read_timeout_, write_timeout_;
  std::array<char, 16 * 1024> buffer_{};
  size_t off_ = 0, len_ = 0;  // the unread part of buffer_
  Steady::time_point header_deadline_{};
  bool in_headers_ = false;
  std::array<char, 2> last_{};  // the last two header bytes read
};

// What a connection beyond the limit gets before it is closed (best effort: never waits).
constexpr std::string_view kBusyReply =
    "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\n"
    "Content-Length: 33\r\n\r\ntoo many connections; try again\r\n";

}  // namespace

BoundedHttpServer::BoundedHttpServer(HttpLimits limits) : limits_(limits) {
  set_read_timeout(limits_.read_timeout);
  set_keep_alive_timeout(limits_.idle_timeout.count());
  set_keep_alive_max_count(std::max<size_t>(limits_.max_requests_per_connection, 1));
  // httplib owns (and deletes) the queue it gets from new_task_queue.
  size_t max = std::max<size_t>(limits_.max_connections, 1);
  new_task_queue = [max]() -> httplib::TaskQueue* { return new ConnectionPool(max); };
}

bool BoundedHttpServer::WaitForRequest(socket_t sock) const {
  const Steady::time_point end = Steady::now() + std::chrono::seconds(keep_alive_timeout_sec_);
  for (;;) {
    if (svr_sock_ == INVALID_SOCKET) return false;
    Steady::time_point now = Steady::now();
    if (now >= end) return false;
    auto slice = std::min(std::chrono::duration_cast<milliseconds>(end - now), kStopCheck);
    pollfd p{sock, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(slice.count(), 1)));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

bool BoundedHttpServer::process_and_close_socket(socket_t sock) {
  bool ret = false;
  if (t_refusing) {
    (void)::send(sock, kBusyReply.data(), kBusyReply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  } else {
    for (size_t left = keep_alive_max_count_; left > 0 && WaitForRequest(sock); --left) {
      // One stream per request, as httplib's own loop does: what a request left unread in the
      // stream's buffer (a body a refused request never read) is dropped with it, not parsed
      // as the next request.
      DeadlineStream stream(sock, svr_sock_, ToMs(read_timeout_sec_, read_timeout_usec_),
                            ToMs(write_timeout_sec_, write_timeout_usec_));
      stream.BeginRequest(Steady::now() + limits_.header_deadline);
      bool closed = false;
      ret = process_request(stream, left == 1, closed, nullptr);
      if (!ret || closed) break;
    }
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ret;
}

}  // namespace sb
