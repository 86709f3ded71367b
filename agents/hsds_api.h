// The HSDS 3.0 read API (../shared/hsds/schema/openapi.json), answered from the agent's replica:
//   GET /                                   {version, profile, openapi_url}
//   GET /services[/{id}]                    Page of compiled/service_list (full=true: compiled
//                                           services); one compiled service
//   GET /organizations[/{id}]               Page of compiled/organization_list (full=true or
//                                           full_service=true: compiled organizations)
//   GET /service_at_locations[/{id}]        Page of compiled/service_at_location_list; one
//                                           service_at_location with location and service
//   GET /taxonomies[/{id}]                  taxonomies
//   GET /taxonomy_terms[/{id}]              taxonomy terms with taxonomy_detail
// Pages: {total_items, total_pages, page_number, size, first_page, last_page, empty,
// contents}. Query parameters (AND): search (any case, in names and descriptions), page (from
// 1), per_page (1 to 500, default 50), format (json, or ndjson: every result, one per line,
// no pages), taxonomy_term_id, taxonomy_id, organization_id, modified_after (ISO 8601 date or
// date-time; the last change of the object as the reader sees it), minimal (only id and
// modified_date), full, full_service, postcode (a location address's postal code, spaces and
// case ignored), proximity ("LAT,LON,KM": within KM kilometres of the location's coordinates;
// a location whose coordinates the reader may not see is never matched), and for
// taxonomy_terms parent_id and top_only. An unknown or malformed parameter is a 400 naming it;
// an unknown id a 404.
//
// Served on the agent's local API under /hsds (token required, the reader the local API reads
// as) and, with `switchboard agent --public-api ADDR`, by PublicHsdsServer at the root of ADDR
// without a token, for the public (published, non-confidential values of vetted
// organizations), rate-limited per client address. Nothing here writes.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "agents/hsds_export.h"
#include "agents/local_directory.h"
#include "base/clock.h"
#include "base/mutex.h"
#include "base/status.h"

namespace httplib {
class Server;
}

namespace sb {

struct HsdsAnswer {
  nlohmann::json body;
  bool ndjson = false;  // body is an array to send one element per line
};

inline constexpr size_t kHsdsDefaultPerPage = 50;
inline constexpr size_t kHsdsMaxPerPage = 500;

// Answers GET `route` ("/", "/services", "/services/ID", ...; the path after any prefix) with
// query `params` from the compiled objects: the 200 body, or InvalidArgument naming a
// parameter, or NotFound.
Result<HsdsAnswer> AnswerHsds(const HsdsCompiler& objects, std::string_view route,
                              const std::multimap<std::string, std::string>& params);

// The compiled objects of the directory as each reader sees them, built once per change of
// the directory (LocalDirectory::generation) and shared by the requests until the next.
// Keeps the last few readers' (at most kMaxEntries). Thread-safe.
class HsdsCache {
 public:
  explicit HsdsCache(LocalDirectory* dir);
  std::shared_ptr<const HsdsCompiler> Get(const Reader& reader);

 private:
  static constexpr size_t kMaxEntries = 4;
  struct Entry {
    std::string key;
    uint64_t generation = 0;
    std::shared_ptr<const HsdsCompiler> compiled;
  };
  std::shared_ptr<const HsdsCompiler> Find(const std::string& key, uint64_t generation);

  LocalDirectory* dir_;
  Mutex build_mu_;  // held while building, so that concurrent misses build once
  Mutex mu_;
  std::vector<Entry> entries_ GUARDED_BY(mu_);
};

// Adds GET routes for the API under `prefix` ("" or "/hsds") to `server`; each request
// reads `dir` as `reader()` says (through one HsdsCache per call).
void AddHsdsRoutes(httplib::Server& server, const std::string& prefix, LocalDirectory* dir,
                   std::function<Reader()> reader);

// A token bucket per client address: `burst` requests at once, refilled at `per_second`.
// Remembers at most `max_clients` addresses (the fullest buckets are forgotten first: a
// forgotten client starts full, which is what it would have been). Thread-safe.
class ClientRateLimiter {
 public:
  ClientRateLimiter(double per_second, double burst, size_t max_clients = 10000);
  // True when `client` may make a request at monotonic time `now_ms` (and takes a token);
  // otherwise false and *retry_after_s = whole seconds until a token is there.
  bool Allow(const std::string& client, uint64_t now_ms, int* retry_after_s);

 private:
  struct Bucket {
    double tokens = 0;
    uint64_t at_ms = 0;
  };
  const double per_second_, burst_;
  const size_t max_clients_;
  Mutex mu_;
  std::map<std::string, Bucket> buckets_ GUARDED_BY(mu_);
};

// The public, token-less listener: only the read API above at the root of its address, as
// the public reads (Reader{}); every other method is 405; over the rate, 429 with
// Retry-After.
class PublicHsdsServer {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 0;  // 0: any free port
    double rate_per_second = 5;
    double burst = 30;
  };
  PublicHsdsServer(LocalDirectory* dir, Clock* clock, Options options);
  ~PublicHsdsServer();
  PublicHsdsServer(const PublicHsdsServer&) = delete;
  PublicHsdsServer& operator=(const PublicHsdsServer&) = delete;

  // Binds; returns the bound port.
  Result<int> Bind();
  // Serves until Stop().
  void Serve();
  // Returns once Serve() (if running) has returned. Safe from any thread.
  void Stop();

 private:
  Clock* clock_;
  Options options_;
  ClientRateLimiter limiter_;
  std::unique_ptr<httplib::Server> http_;
  std::atomic<bool> stop_requested_{false}, serving_{false}, served_{false};
};

}  // namespace sb
