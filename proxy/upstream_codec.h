#pragma once
// The interface between UpstreamRequest (pick, connect, retry: upstream_request.h) and the
// protocol that carries one request to a member: Http1Upstream (upstream_http1.h) or
// Http2Upstream (upstream_http2.h). As a BodySink it takes the request body. Its events go back
// through UpstreamRequest's codec_* methods. Thread: the worker owning the exchange.

#include <string_view>

#include "proxy/downstream.h"

namespace sy::proxy {

class WorkerPool;
struct WorkerMember;

class UpstreamCodec : public BodySink {
 public:
  // Connects to |m| of |pool|, or attaches to a connection that can take the request. Reports
  // codec_connected or codec_connect_failed on the UpstreamRequest, possibly before returning.
  virtual void connect(WorkerPool* pool, WorkerMember* m) = 0;
  // The request body is complete; |trailer| (filtered "Name: value\r\n" lines) follows it.
  virtual void end_request(std::string_view trailer) = 0;
  // Stops / resumes reading the response.
  virtual void pause_response(bool paused) = 0;
  // Lets go of the connection or stream: kept for another request when |reusable|, else
  // closed (HTTP/1.1) or reset (HTTP/2). No callback follows.
  virtual void release(bool reusable) = 0;
  // After a 101: the member's connection, for Stream::splice; null if none (HTTP/2).
  virtual Stream* tunnel_stream() { return nullptr; }

 protected:
  ~UpstreamCodec() = default;
};

}  // namespace sy::proxy
