#include "transport/zap.h"

#include <stdexcept>
#include <vector>

#include "crypto/identity.h"

namespace sb {

namespace {

constexpr char kZapEndpoint[] = "inproc://zeromq.zap.01";
constexpr char kZapVersion[] = "1.0";
constexpr int kPollMs = 100;  // how often the thread looks at stop_

std::string Str(const zmq::message_t& m) {
  return m.to_string();
}

struct Reply {
  std::string code;  // "200", "400", "500"
  std::string text;
  std::string user_id;
};

}  // namespace

ZapAuthenticator::ZapAuthenticator(zmq::context_t& ctx, Authorize authorize, OnRefuse on_refuse)
    : ctx_(ctx), authorize_(std::move(authorize)), on_refuse_(std::move(on_refuse)) {
  try {
    socket_ = zmq::socket_t(ctx_, zmq::socket_type::rep);
    socket_.set(zmq::sockopt::linger, 0);
    socket_.bind(kZapEndpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error(
        std::string("cannot start the ZAP handler on ") + kZapEndpoint + ": " + e.what() +
        (e.num() == EADDRINUSE ? " (another handler runs on this context)" : ""));
  }
  thread_ = std::thread([this] { Run(); });
}

ZapAuthenticator::~ZapAuthenticator() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ZapAuthenticator::Run() {
  // Handles one request (ZeroMQ RFC 27): version, request id, domain, address, routing id,
  // mechanism, credentials...; for CURVE the one credential is the client's 32-byte key.
  auto handle = [this](const std::vector<zmq::message_t>& req) -> Reply {
    if (req.size() < 6 || Str(req[0]) != kZapVersion) return {"500", "malformed ZAP request", ""};
    const std::string domain = Str(req[2]);
    const std::string mechanism = Str(req[5]);
    std::string key;
    if (mechanism == "CURVE" && req.size() == 7 && req[6].size() == 32) {
      key = Z85Encode32(std::string_view(req[6].data<char>(), req[6].size()));
    }
    auto refuse = [&](std::string code, std::string why) {
      if (on_refuse_) on_refuse_(key, why);
      return Reply{std::move(code), std::move(why), ""};
    };
    if (domain != kZapDomain) return refuse("400", "domain '" + domain + "' not served");
    if (mechanism != "CURVE") return refuse("400", "mechanism " + mechanism + " not allowed");
    if (key.empty()) return refuse("400", "malformed CURVE credentials");
    std::optional<std::string> org;
    try {
      org = authorize_(key);
    } catch (const std::exception& e) {
      return refuse("500", std::string("authorization failed: ") + e.what());
    }
    if (!org || org->empty()) return refuse("400", "key not enrolled or revoked");
    return {"200", "OK", *org};
  };

  while (!stop_) {
    try {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, std::chrono::milliseconds(kPollMs)) == 0) continue;
      std::vector<zmq::message_t> req;
      do {
        zmq::message_t part;
        if (!socket_.recv(part, zmq::recv_flags::dontwait)) break;
        req.push_back(std::move(part));
      } while (req.back().more());
      if (req.empty()) continue;
      Reply reply = handle(req);
      // A REP socket must answer every request, even one too short to carry a request id.
      socket_.send(zmq::buffer(std::string_view(kZapVersion)), zmq::send_flags::sndmore);
      if (req.size() >= 2) {
        socket_.send(req[1], zmq::send_flags::sndmore);
      } else {
        socket_.send(zmq::message_t(), zmq::send_flags::sndmore);
      }
      socket_.send(zmq::buffer(reply.code), zmq::send_flags::sndmore);
      socket_.send(zmq::buffer(reply.text), zmq::send_flags::sndmore);
      socket_.send(zmq::buffer(reply.user_id), zmq::send_flags::sndmore);
      socket_.send(zmq::message_t(), zmq::send_flags::none);  // metadata: none
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;  // the context is shutting down
      // Anything else is a libzmq state error on an inproc socket: keep serving.
    }
  }
}

}  // namespace sb
