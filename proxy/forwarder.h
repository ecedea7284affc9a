#pragma once
// The proxy's side of tenant routing (DESIGN decisions 1, 4, 5). main builds one RoutingSetup
// from the config; each worker owns one Forwarder that turns a request head into
// routing::RequestFacts, extracts the context key and calls the pure routing::decide() with
// the worker's pinned snapshot. Carrying the decision out (proxy, 307, error, hold) is the
// exchange's job (proxy/exchange.h); parked exchanges are counted in the HoldQueue here, and
// proxied ones in the in-flight count of their schema.
//
// Snapshot updates: the loader publishes, main posts Worker::on_snapshot() to every worker,
// which refreshes the pinned pointer and re-decides every held request (held requests whose
// schema is still disabled park again, keeping their original deadline).
//
// Thread: the owning worker, all of it (RoutingSetup: immutable, any thread).

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/thread_check.h"
#include "proxy/hold_queue.h"
#include "proxy/http_message.h"
#include "routing/context_key.h"
#include "routing/decide.h"
#include "routing/publisher.h"
#include "routing/snapshot.h"

namespace sy::proxy {

class Exchange;

// Immutable after start; shared read-only by every worker.
struct RoutingSetup {
  const routing::SnapshotPublisher* publisher = nullptr;
  routing::KeyExtractor extractor;
  routing::DecideConfig decide;
  HoldLimits hold;
  bool needs_form_body = false;  // a login_form rule exists: wait for small form bodies
  routing::ErrorStyle errors;    // envelope and status of local answers (CTX codes)
};

// A local answer ready to be written: status, extra header lines, body (in the forwarder's
// scratch buffers: valid until the next render on this worker).
struct LocalAnswer {
  int status = 0;
  std::string_view extra_headers;  // "" or "Retry-After: N\r\n" (the code's retry_after)
  std::string_view body;           // application/json, ends with '\n'
};

// Largest urlencoded form body a login_form rule waits for before deciding.
constexpr uint64_t kMaxFormBodyForKey = 8 * 1024;

class Forwarder {
 public:
  // |worker_id| makes the error_id of local answers unique across the process's workers.
  Forwarder(const RoutingSetup* setup, int worker_id);

  // Decides |req|, which arrived on a listener whose pool is |listener_pool| (config index;
  // routing's default pool for a request without a tenant key). |form_body|: the complete
  // small form body when wants_form_body(), else "". Sets *context to the request's context id
  // (0 when none).
  routing::Decision decide(const HttpRequest& req, int listener_pool, std::string_view form_body,
                           routing::ContextId* context);
  // True when |req| is decided on its body as well (a login_form rule, a small body of known
  // length): the session waits for the whole body before starting the exchange.
  bool wants_form_body(const HttpRequest& req) const {
    return setup_->needs_form_body && req.body == BodySize::Known &&
           req.content_length <= kMaxFormBodyForKey;
  }
  // Name of schema |index| in the snapshot the last decide() used; nullptr when out of range.
  const std::string* schema_name(uint32_t index) const;
  // Picks up a newer snapshot; true when it changed, or when the directory was stale at a
  // decide() since the last refresh and is not any more (held requests are decided again).
  bool refresh();
  // Renders |reject| in the deployment's envelope (routing::render_ctx_error; the only call
  // of it in the proxy). |reject.server| must point into the snapshot pinned now. Worker
  // thread; allocates nothing once the scratch buffer is warm.
  LocalAnswer render(const routing::Reject& reject);
  // Worker-thread scratch for the headers and body of a locally built answer (307, CTX-00NN):
  // their capacity is reused, so answering allocates nothing.
  std::string& header_scratch() { return header_scratch_; }
  std::string& body_scratch() { return body_scratch_; }

  // change_seq() of the snapshot this worker pinned last (0 = none or no change log). Every
  // decision made from now on uses this snapshot or a newer one.
  uint64_t pinned_seq() const { return view_.pinned() ? view_.pinned()->change_seq() : 0; }
  bool has_snapshot() { return view_.get() != nullptr; }

  // Requests in flight per schema. The counter a proxied request of the schema at |index| of
  // the pinned snapshot increments while it runs (an array lookup; the name is hashed once per
  // schema and snapshot; addresses are stable); nullptr when out of range.
  int64_t* inflight_counter(uint32_t schema_index);
  // Appends (schema, count) for every schema with requests in flight now.
  void inflight_now(std::vector<std::pair<std::string, uint64_t>>* out) const;

  HoldQueue<Exchange>& hold() { return hold_; }
  const RoutingSetup& setup() const { return *setup_; }

 private:
  const RoutingSetup* setup_;
  routing::WorkerView view_;
  uint64_t seen_generation_ = 0;
  bool stale_seen_ = false;  // a decide() saw RequestFacts::directory_stale since the last
                             // refresh() that found the directory fresh
  std::vector<routing::Header> headers_;  // scratch, capacity reused
  std::string header_scratch_;
  std::string body_scratch_;
  std::string answer_headers_;  // the last local answer's extra headers (LocalAnswer views it)
  int worker_id_;
  uint64_t answers_ = 0;  // local error answers rendered: the tail of their error_id
  std::unordered_map<std::string, int64_t> inflight_;  // never erased
  std::vector<int64_t*> inflight_by_index_;            // into inflight_, for inflight_generation_
  uint64_t inflight_generation_ = 0;
  HoldQueue<Exchange> hold_;
  ThreadOwner thread_;  // the worker's
};

}  // namespace sy::proxy
