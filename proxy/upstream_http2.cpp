#include "proxy/upstream_http2.h"

#include <event2/buffer.h>

#include "proxy/upstream_request.h"

namespace sy::proxy {

size_t Http2Upstream::prepare(const HttpRequest& req, const ForwardPolicy& policy) {
  return make_upstream_h2_head(req, policy, &head_);
}

void Http2Upstream::connect(WorkerPool*, WorkerMember*) {
  req_->codec_connect_failed("HTTP/2 to members is not built yet");
}

void Http2Upstream::write_body(evbuffer* src, size_t n) { evbuffer_drain(src, n); }

}  // namespace sy::proxy
