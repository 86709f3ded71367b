// Helpers shared by the local HTTP APIs of agent and broker (127.0.0.1, bearer token).
#pragma once

#include <string_view>

#include "base/status.h"

namespace sb {

// True when `authorization` is exactly "Bearer <token>"; compared in constant time.
bool BearerMatches(std::string_view authorization, std::string_view token);

// True when a request's `Host` header names this loopback server ("127.0.0.1:PORT",
// "localhost:PORT" or "[::1]:PORT"). Every local API checks it before anything else: a web page the
// user visits cannot then reach the API by DNS rebinding (its requests carry the page's own host).
bool LocalHostMatches(std::string_view host, int port);

// The HTTP status that stands for `code`: 400 bad input, 401, 403, 404, 409 state conflict,
// 413 too large, 503 unavailable, 500 otherwise.
int HttpStatusFor(Code code);

}  // namespace sb
