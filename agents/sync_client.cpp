#include "agents/sync_client.h"

#include <spdlog/spdlog.h>
#include <zmq.h>

#include <cstring>
#include <zmq.hpp>

namespace sb {

SyncClient::SyncClient(LocalDirectory* dir, Clock* clock, const Identity& me, Options options)
    : options_(std::move(options)), me_(me),
      session_(dir, clock, me, options_.broker.sign_public, options_.session) {}

SyncClient::~SyncClient() { Stop(); }

Status SyncClient::Start() {
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void SyncClient::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void SyncClient::Run() {
  zmq::context_t ctx(1);
  Result<zmq::socket_t> made =
      MakeAgentSocket(ctx, me_, options_.broker.curve_public, options_.endpoint, options_.limits);
  if (!made.ok()) {
    spdlog::error("sync: {}", made.status().ToString());
    session_.OnDisconnected(made.status().message());
    return;
  }
  zmq::socket_t socket = std::move(made).value();
  std::string monitor_ep = "inproc://sync-monitor";
  zmq_socket_monitor(socket.handle(), monitor_ep.c_str(),
                     ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                         ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                         ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL);
  zmq::socket_t monitor(ctx, zmq::socket_type::pair);
  monitor.connect(monitor_ep);

  auto send_all = [&](const std::vector<std::string>& out) {
    for (const std::string& m : out) {
      zmq::message_t msg(m.data(), m.size());
      // Immediate mode: with no connection the send fails; the session resends later.
      (void)socket.send(msg, zmq::send_flags::dontwait);
    }
  };
  spdlog::info("sync: connecting to {}", options_.endpoint);
  while (!stop_) {
    zmq::pollitem_t items[] = {{socket.handle(), 0, ZMQ_POLLIN, 0},
                               {monitor.handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 2, std::chrono::milliseconds(50));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      spdlog::error("sync: poll failed: {}", e.what());
      break;
    }
    if (items[1].revents & ZMQ_POLLIN) {
      zmq::message_t ev, addr;
      if (monitor.recv(ev) && monitor.recv(addr) && ev.size() >= 6) {
        uint16_t event;
        std::memcpy(&event, ev.data(), 2);
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
          send_all(session_.OnConnected());
        } else if (event == ZMQ_EVENT_DISCONNECTED) {
          session_.OnDisconnected("disconnected from the broker; reconnecting");
        } else {
          session_.OnDisconnected(
              "the broker refused the connection: this agent's key is not enrolled or was "
              "revoked, or --broker-key is not the broker's key");
        }
      }
    }
    if (items[0].revents & ZMQ_POLLIN) {
      for (int i = 0; i < 64; ++i) {
        zmq::message_t msg;
        auto got = socket.recv(msg, zmq::recv_flags::dontwait);
        if (!got) break;
        send_all(session_.OnMessage(std::string_view(static_cast<const char*>(msg.data()), msg.size())));
      }
    }
    send_all(session_.Tick());
  }
  zmq_socket_monitor(socket.handle(), nullptr, 0);
}

}  // namespace sb
