#pragma once
// The whole routing policy on one screen (DESIGN decision 4: route or redirect, never loop).
//
// decide() is a pure function of the request facts, the extracted key, the snapshot the request
// pinned, and this instance's configuration: no I/O, no clock, no shared mutable state. Any
// thread may call it concurrently; it allocates only for a Redirect location.
//
// The checks, in order; the first that applies decides:
//
//   key None ........................ no_key: DefaultPool -> Proxy{the listener's pool,
//                                                              else default_pool}
//                                             NotFound    -> 404 CTX-0001
//   login not in the login table ..................................... 404 CTX-0002
//   context id unknown ............................................... 404 CTX-0003
//   context disabled ................................................. 403 CTX-0004
//   schema failed (sequencer marked its update failed) .............. 503 CTX-0022 at once
//   schema disabled ............................ Hold{schema, context} (any role)
//                                   directory_stale: Hold{..., stale} (then 503 CTX-0023)
//   effective server's pool is in served_pools .................... Proxy{pool}
//     role Old and directory_stale ........... Hold{schema, context, stale} (then 503 CTX-0023)
//   effective server unknown (or 0) .................................. 502 CTX-0010
//   role New (context still on another server) ...................... 409 CTX-0012
//   role Old, context moved:
//     loop-guard header present ...................................... 508 CTX-0013
//     moved == Proxy and the server's pool is configured here ........ Proxy{pool, moved}
//     server has a redirect_url .............. 307 Redirect{redirect_url + target}
//     otherwise ...................................................... 502 CTX-0011
//
// directory_stale (RequestFacts; the database is gone while the cluster is not STABLE, docs/
// decisions.md 67): what may have moved since the snapshot is not routed from it. On role Old
// that is every schema it serves itself (it may have moved to the new version meanwhile) and
// every disabled one; both are held, and a stale hold that ends without fresh data is answered
// 503 CTX-0023 (not CTX-0021). A context already moved keeps its redirect or proxy: a move is a
// one-way door, the snapshot cannot be wrong about it. Role New serves only what has moved to
// it, so it keeps proxying; it holds disabled schemas the same way. Everything else (keys,
// unknown or disabled contexts, failed schemas, CTX-0012) is answered as without the fact.
//
// A Redirect's Location is the server's redirect_url without trailing '/' followed by the
// request's path and query exactly as received; it is never built from the Host header.
// A Reject carries only its CtxCode and what the answer may name; its status and body come from
// routing/ctx_codes.h (one table, two envelopes), rendered by the proxy.
//
// Logins (LoginStyle): Whole looks the key up as it is. OxContextPart does what Open-Xchange
// does with "user@context": the part after the LAST '@' is looked up; a login without '@'
// belongs to the context mapped as default_context_login ("defaultcontext"). Whether the
// lookup ignores ASCII case is the snapshot's (SnapshotInput::fold_login_case).

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "routing/context_key.h"
#include "routing/ctx_codes.h"
#include "routing/snapshot.h"

namespace sy::routing {

enum class Role {
  Old,  // this instance runs the old version: moved contexts go elsewhere (redirect/proxy)
  New,  // this instance runs the new version: not-yet-moved contexts are refused (409)
};
enum class NoKeyPolicy { DefaultPool, NotFound };
enum class MovedAction { Redirect, Proxy };
enum class LoginStyle {
  Whole,          // the login key as it is
  OxContextPart,  // Open-Xchange: after the last '@'; none = default_context_login
};

struct DecideConfig {
  Role role = Role::Old;
  std::vector<int> served_pools;  // pool indexes this instance serves (its own version's pools)
  MovedAction moved = MovedAction::Redirect;
  NoKeyPolicy no_key = NoKeyPolicy::NotFound;
  int default_pool = -1;  // NoKeyPolicy::DefaultPool without a listener pool (facts): pool
                          // index; < 0 gives 502 CTX-0010
  std::string loop_guard_header = "X-Switchyard-Redirected";  // "" = no loop guard
  LoginStyle login_style = LoginStyle::Whole;
  std::string default_context_login = "defaultcontext";  // OxContextPart, login without '@'
};

constexpr uint32_t kNoSchema = UINT32_MAX;  // Proxy::schema for a request without a context

struct Proxy {
  int pool;            // pool index (SnapshotInput::pool_names), always >= 0
  uint32_t schema;     // schema index; kNoSchema when no context (default pool)
  ContextId context;   // 0 when no context
  bool moved = false;  // true = Old role forwarding a moved context to the new version's pool:
                       // the forwarder adds the loop-guard header to the upstream request
};
struct Redirect {
  std::string location;  // absolute URL for a 307 (method and body are preserved by clients)
};
struct Hold {
  uint32_t schema;  // schema index to wait for (RoutingSnapshot::schema_enabled)
  ContextId context;
  bool stale = false;  // held because the directory is stale (RequestFacts::directory_stale):
                       // when the hold ends without fresh data the answer is CTX-0023
};
struct Reject {
  CtxCode code;                       // status and texts: ctx_info(code)
  ContextId context = 0;              // named in the answer; 0 = none
  const ServerRow* server = nullptr;  // named in the answer; points into the snapshot the
                                      // request pinned (valid while it stays pinned)
};
using Decision = std::variant<Proxy, Redirect, Hold, Reject>;

// Decides what to do with one request (see the table above). |s| must be the snapshot the
// request pinned; pointers into it are not kept. Never fails: every outcome is a Decision.
Decision decide(const RequestFacts& f, const ContextKey& key, const RoutingSnapshot& s,
                const DecideConfig& c);

// "proxy", "redirect", "hold" or "reject": the access-log word for a decision.
const char* decision_name(const Decision& d);

}  // namespace sy::routing
