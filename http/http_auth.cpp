#include "http/http_auth.h"

#include <sodium.h>

#include <string>

namespace sb {

bool BearerMatches(std::string_view authorization, std::string_view token) {
  constexpr std::string_view kPrefix = "Bearer ";
  if (token.empty() || authorization.size() != kPrefix.size() + token.size() ||
      authorization.substr(0, kPrefix.size()) != kPrefix) {
    return false;
  }
  return sodium_memcmp(authorization.data() + kPrefix.size(), token.data(), token.size()) == 0;
}

bool LocalHostMatches(std::string_view host, int port) {
  std::string p = ":" + std::to_string(port);
  return port > 0 && (host == "127.0.0.1" + p || host == "localhost" + p || host == "[::1]" + p);
}

int HttpStatusFor(Code code) {
  switch (code) {
    case Code::kInvalidArgument:
      return 400;
    case Code::kUnauthenticated:
      return 401;
    case Code::kPermissionDenied:
      return 403;
    case Code::kNotFound:
      return 404;
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition:
      return 409;
    case Code::kResourceExhausted:
      return 413;
    case Code::kUnavailable:
    case Code::kIoError:  // the disk failed a write: the process runs, try again later
      return 503;
    case Code::kNoSpace:  // RFC 4918's Insufficient Storage: the disk is full
      return 507;
    default:
      return 500;
  }
}

}  // namespace sb
