#include "proxy/forwarder.h"

#include <unistd.h>

#include <charconv>

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
  (void)view_.get();  // re-pins when the generation moved
  return changed;
}

LocalAnswer Forwarder::render(const routing::Reject& reject) {
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
  a.extra_headers = routing::ctx_info(reject.code).retry_after ? "Retry-After: 1\r\n" : "";
  return a;
}

routing::Decision Forwarder::decide(const http1::RequestHead& head, std::string_view form_body,
                                    routing::ContextId* context) {
  headers_.clear();
  std::string_view content_type;
  for (size_t i = 0; i < head.num_headers; ++i) {
    headers_.push_back(routing::Header{head.headers[i].name, head.headers[i].value});
    if (http1::iequals(head.headers[i].name, "content-type")) {
      content_type = head.headers[i].value;
    }
  }
  routing::RequestFacts facts;
  facts.method = head.method;
  facts.target = head.target;
  facts.host = head.host;
  facts.headers = headers_.data();
  facts.header_count = headers_.size();
  facts.body = form_body;
  facts.content_type = content_type;

  routing::ContextKey key = setup_->extractor.extract(facts);
  const std::shared_ptr<const routing::RoutingSnapshot>& snap = view_.get();
  *context = 0;
  if (!snap) {  // not reachable: main publishes the first snapshot before workers start
    return routing::Reject{routing::CtxCode::NotLoaded};
  }
  routing::Decision d = routing::decide(facts, key, *snap, setup_->decide);
  // decide() already resolved the login; a rejected id key is still worth logging.
  if (const auto* p = std::get_if<routing::Proxy>(&d)) {
    *context = p->context;
  } else if (const auto* h = std::get_if<routing::Hold>(&d)) {
    *context = h->context;
  } else if (key.kind == routing::ContextKey::Id) {
    *context = key.id;
  }
  return d;
}

}  // namespace sy::proxy
