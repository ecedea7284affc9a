#include "proxy/forwarder.h"

#include <unistd.h>

#include <charconv>

#include "common/thread_check.h"
#include "proxy/upstream_pool.h"  // monotonic_ms

namespace sy::proxy {

Forwarder::Forwarder(const RoutingSetup* setup, int worker_id)
    : setup_(setup), view_(setup->publisher), worker_id_(worker_id), hold_(setup->hold) {}

const std::string* Forwarder::schema_name(uint32_t index) const {
  // The pinned snapshot, not a newer one: |index| came from a decision made with it.
  const auto& snap = view_.pinned();
  if (!snap || index >= snap->schema_count()) {
    return nullptr;
  }
  return &snap->schema(index).name;
}

bool Forwarder::refresh() {
  uint64_t generation = setup_->publisher->generation();
  bool changed = generation != seen_generation_;
  seen_generation_ = generation;
  // The database answered again after this worker saw the directory stale: what it holds for
  // that reason routes normally at once, even when the data did not change (no publish).
  if (stale_seen_ && !setup_->publisher->stale(monotonic_ms())) {
    stale_seen_ = false;
    changed = true;
  }
  (void)view_.get();  // re-pins when the generation moved
  return changed;
}

LocalAnswer Forwarder::render(const routing::Reject& reject) {
  SY_ASSERT_IN(thread_);
  // error_id: "<pid>-<worker>-<n>", n counting this worker's answers: unique within the
  // process lifetime, and cheap (no clock, no random source on the worker).
  char id[64];
  char* p = std::to_chars(id, id + 20, static_cast<long>(getpid())).ptr;
  *p++ = '-';
  p = std::to_chars(p, id + 40, worker_id_).ptr;
  *p++ = '-';
  p = std::to_chars(p, id + sizeof id, ++answers_).ptr;
  routing::CtxDetails details;
  details.context = reject.context;
  if (reject.server != nullptr) {
    details.server_id = reject.server->id;
    details.server_name = reject.server->name;
  }
  details.error_id = std::string_view(id, static_cast<size_t>(p - id));
  LocalAnswer a;
  a.status = routing::render_ctx_error(setup_->errors, reject.code, details, &body_scratch_);
  body_scratch_ += '\n';
  a.body = body_scratch_;
  answer_headers_.clear();
  if (const int retry = routing::ctx_info(reject.code).retry_after; retry > 0) {
    answer_headers_.append("Retry-After: ").append(std::to_string(retry)).append("\r\n");
  }
  a.extra_headers = answer_headers_;
  return a;
}

routing::Decision Forwarder::decide(const HttpRequest& req, int listener_pool,
                                    std::string_view form_body, routing::ContextId* context) {
  SY_ASSERT_IN(thread_);
  headers_.clear();
  for (size_t i = 0; i < req.num_fields; ++i) {
    headers_.push_back(routing::Header{req.fields[i].name, req.fields[i].value});
  }
  routing::RequestFacts facts;
  facts.method = req.method;
  facts.target = req.target;
  facts.host = req.authority;
  facts.headers = headers_.data();
  facts.header_count = headers_.size();
  facts.body = form_body;
  facts.content_type = req.content_type;
  facts.listener_pool = listener_pool;
  facts.directory_stale = setup_->publisher->stale(monotonic_ms());
  stale_seen_ = stale_seen_ || facts.directory_stale;

  routing::ContextKey key = setup_->extractor.extract(facts);
  const std::shared_ptr<const routing::RoutingSnapshot>& snap = view_.get();
  *context = 0;
  if (!snap) {  // not reachable: main publishes the first snapshot before workers start
    return routing::Reject{routing::CtxCode::NotLoaded};
  }
  routing::Decision d = routing::decide(facts, key, *snap, setup_->decide);
  // decide() already resolved the login; a rejected id key is still worth logging.
  *context = std::visit(
      [&key](const auto& v) -> routing::ContextId {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, routing::Proxy> || std::is_same_v<T, routing::Hold>) {
          return v.context;
        } else {
          return key.kind == routing::ContextKey::Id ? key.id : 0;
        }
      },
      d);
  return d;
}

int64_t* Forwarder::inflight_counter(uint32_t schema_index) {
  SY_ASSERT_IN(thread_);
  uint64_t generation = view_.generation();
  if (generation != inflight_generation_) {
    inflight_by_index_.clear();  // indexes of another snapshot
    inflight_generation_ = generation;
  }
  if (schema_index < inflight_by_index_.size() && inflight_by_index_[schema_index] != nullptr) {
    return inflight_by_index_[schema_index];
  }
  const std::string* name = schema_name(schema_index);
  if (name == nullptr) {
    return nullptr;
  }
  if (schema_index >= inflight_by_index_.size()) {
    inflight_by_index_.resize(schema_index + 1, nullptr);
  }
  return inflight_by_index_[schema_index] = &inflight_[*name];
}

void Forwarder::inflight_now(std::vector<std::pair<std::string, uint64_t>>* out) const {
  for (const auto& [schema, n] : inflight_) {
    if (n > 0) {
      out->emplace_back(schema, static_cast<uint64_t>(n));
    }
  }
}

}  // namespace sy::proxy
