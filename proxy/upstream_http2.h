#pragma once
// HTTP/2 to a member (work in progress).

#include <cstdint>

#include "proxy/forwarding.h"
#include "proxy/upstream_codec.h"

namespace sy::proxy {

class UpstreamRequest;

class Http2Upstream final : public UpstreamCodec {
 public:
  explicit Http2Upstream(UpstreamRequest* req) : req_(req) {}
  size_t prepare(const HttpRequest& req, const ForwardPolicy& policy);
  void connect(WorkerPool* pool, WorkerMember* m) override;
  void write_body(evbuffer* src, size_t n) override;
  bool body_full() const override { return false; }
  void end_request(std::string_view) override {}
  void pause_response(bool) override {}
  void release(bool) override {}

 private:
  UpstreamRequest* req_;
  NvList head_;
};

}  // namespace sy::proxy
