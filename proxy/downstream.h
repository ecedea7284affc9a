#pragma once
// The two seams of an exchange (proxy/exchange.h):
//
//   Http1Session / Http2Session ──Downstream──▶ Exchange ──BodySink, UpstreamRequest──▶ member
//                               ◀─────────────          ◀──UpstreamHandler─────────────
//
// Downstream is what a server session offers one exchange (nghttpx's Upstream, Envoy's
// ResponseEncoder + stream): read the request body, send the response, say that the exchange
// is over. BodySink is where payload bytes go, in either direction: the upstream request takes
// the request body, the downstream takes the response body. Bytes always move with
// evbuffer_remove_buffer (no copy); a sink above its high-water mark says so with body_full()
// and its producer stops until told it drained.
//
// Byte counts for the access log: the session counts what it receives and queues for an
// exchange (heads, framing, payload) with Exchange::count_in / count_out.
//
// Thread: the worker that owns the connection, all of it.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proxy/http_message.h"

struct evbuffer;

namespace sy::proxy {

class Stream;

class BodySink {
 public:
  // Moves |n| payload bytes from the front of |src| (they are there) to the sink.
  virtual void write_body(evbuffer* src, size_t n) = 0;
  // At or above the high-water mark: the producer stops until the sink reports it drained.
  virtual bool body_full() const = 0;

 protected:
  ~BodySink() = default;
};

// read_request_body's outcome.
enum class BodyRead {
  More,      // everything buffered moved (or the sink filled up): call again when told
  Done,      // the whole body (and its trailer, if any) was read
  Bad,       // malformed framing: error_text() says why; the client gets 400 if it can
  TooLarge,  // past limits.max_body_bytes: 413 if it can
};

class Downstream : public BodySink {
 public:
  // The views of the HttpRequest given to Exchange::start are no longer used (the exchange
  // copied what it keeps). Called exactly once per exchange, before the body is read.
  virtual void release_head() = 0;
  // The upstream is ready: read the request body from now on (arms client_body_timeout while
  // a body is incomplete), and keep watching the client.
  virtual void want_request_body() = 0;
  // Moves decoded request payload into |sink| until it is full or nothing is buffered.
  virtual BodyRead read_request_body(BodySink* sink) = 0;
  // After Done: the trailer fields received after the body, "Name: value\r\n" lines, as
  // received (the exchange filters them). Valid until the exchange ends.
  virtual std::string_view request_trailer() = 0;
  // After Bad: a short reason ("bad-chunk-size", ...).
  virtual std::string_view error_text() = 0;
  // Request bytes the proxy holds for this exchange (hold bounds).
  virtual uint64_t buffered_request_bytes() = 0;
  // While a request is held: stop reading the client and watch whether it goes away (the
  // exchange then hears on_downstream_closed). Off again when it is released.
  virtual void hold_watch(bool on) = 0;

  // A tunnel's client side as one plain socket, for Stream::splice (the HTTP/1.1 session's
  // connection); null where the tunnel is not a whole connection (an HTTP/2 stream).
  virtual Stream* tunnel_stream() { return nullptr; }

  // An interim (1xx) response. Never 101.
  virtual void send_interim(const HttpResponse& resp) = 0;
  // The final response head; the body follows through write_body() unless resp.body is None.
  virtual void send_response_head(const HttpResponse& resp) = 0;
  // A whole response made by the proxy: status, Content-Type, extra header lines
  // ("Name: value\r\n"...), body. |may_keep|: the connection may stay open after it (an
  // HTTP/1.1 session also needs a keep-alive request without an unread body).
  virtual void send_local_response(int status, std::string_view content_type,
                                   std::string_view extra_headers, std::string_view body,
                                   bool may_keep) = 0;
  // The response body is complete; |trailer| ("Name: value\r\n" lines, already filtered) is
  // sent after it when the protocol can carry it.
  virtual void end_response(std::string_view trailer) = 0;
  // The exchange is over and logged. |request_complete| false: part of the request body was
  // never read (an HTTP/1.1 connection cannot be reused; an HTTP/2 stream is ended).
  virtual void exchange_done(bool request_complete) = 0;
  // The response cannot be completed (bytes were sent already): HTTP/1.1 closes the
  // connection, HTTP/2 resets the stream. The exchange has logged itself.
  virtual void abort_response() = 0;

 protected:
  ~Downstream() = default;
};

}  // namespace sy::proxy
