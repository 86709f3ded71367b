// The agent's referral routes (DESIGN.md §7), added to its local HTTP API (api_server.h):
//   GET  /v1/referrals[?box=inbox|outbox][&status=S]   list (no payloads)
//   POST /v1/referrals                                  seal and send:
//        {"to": ORG, "service": ID?, "urgency": "emergency|urgent|routine",
//         "expires_in_hours": N?, "consent": {"scope": S, "by": NAME, "at_ms": MS?},
//         "payload": {"alias": ..., "contact": ..., "contact_times": ..., "language": ...,
//                     "needs": [...], "notes": ...}}
//   GET  /v1/referrals/{id}                             one referral, payload decrypted here
//   POST /v1/referrals/{id}/accept|decline|start|complete|cancel   {"reason": R} (decline)
//   POST /v1/referrals/{id}/purge                       destroy its data key on this agent
//   GET  /v1/audit[?limit=N]                            the audit log's last entries
// Payloads are never logged.
#pragma once

#include <nlohmann/json.hpp>

#include "agents/referral_book.h"
#include "base/clock.h"

namespace httplib {
class Server;
}

namespace sb {

nlohmann::json ReferralJson(const ReferralInfo& r);

void AddReferralRoutes(httplib::Server& server, ReferralBook* book, Clock* clock);

}  // namespace sb
