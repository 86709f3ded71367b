// Connection limits for the local HTTP APIs (agent API, broker API, maintainers' console).
//
// Why: cpp-httplib serves each connection on one thread of a small fixed pool (8 threads on a
// 2-core machine) and bounds only each single read (set_read_timeout). A client that sends half
// a request and then one byte every few seconds never trips that timeout, so a few dozen such
// connections held every thread and a real request waited for ever (issue 14: "64 half-sent
// requests exhaust an agent API's threads").
//
// BoundedHttpServer is an httplib::Server that bounds, per server:
//   - connections served at once: at most `max_connections`, each on a thread of its own
//     (threads are started as needed, up to that number, and joined when listening stops);
//     a connection accepted beyond the limit gets "503" and is closed at once, never queued;
//   - the time to receive a request's line and headers: `header_deadline` from the request's
//     first byte, however the bytes trickle in (the per-read timeout still applies too);
//   - the wait for a request on an open connection: `idle_timeout` (keep-alive), and at most
//     `max_requests_per_connection` requests per connection.
// A slow connection therefore holds its thread for at most idle_timeout + header_deadline
// (plus the handler's own time), and a burst of them beyond the limit is turned away instead of
// starving the requests behind it. Bodies are not under the header deadline: every route reads
// its body only after the bearer-token check, so only a token holder can send one slowly.
//
// Thread safety: as httplib::Server (configure before listening; stop() from any thread).
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstddef>

namespace sb {

struct HttpLimits {
  size_t max_connections = 128;
  std::chrono::seconds header_deadline{10};
  // Applied with set_read_timeout, set_keep_alive_timeout and set_keep_alive_max_count (later
  // calls to those setters still take effect).
  std::chrono::seconds read_timeout{5};  // each read of a request
  std::chrono::seconds idle_timeout{5};  // waiting for a request on an open connection
  size_t max_requests_per_connection = 5;
};

class BoundedHttpServer : public httplib::Server {
 public:
  explicit BoundedHttpServer(HttpLimits limits = {});
  ~BoundedHttpServer() override = default;
  BoundedHttpServer(const BoundedHttpServer&) = delete;
  BoundedHttpServer& operator=(const BoundedHttpServer&) = delete;

 private:
  // Called by httplib for each accepted connection (on a pool thread, or on the listening thread
  // to refuse it); serves its requests, then closes it.
  bool process_and_close_socket(socket_t sock) override;
  // Waits until `sock` has a byte to read, for at most the idle timeout; false when it does not,
  // or when the server stops.
  bool WaitForRequest(socket_t sock) const;

  const HttpLimits limits_;
};

}  // namespace sb
