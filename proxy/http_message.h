#pragma once
// The protocol-neutral view of one HTTP message head, and the access log's termination code.
//
// Each server session turns what its codec parsed into an HttpRequest (views into its own
// buffers: the pulled-up client input for HTTP/1.1, the stream's field arena for HTTP/2) and
// hands it to the Exchange; each upstream codec turns a response head into an HttpResponse the
// same way. The Exchange and the forwarding rules (proxy/forwarding.h) see only these, so that
// routing, holding, the forwarded-field policy and the access log are one piece of code for
// HTTP/1.1 and HTTP/2 on both sides:
//
//   Http1Session ─┐                        ┌─ upstream HTTP/1.1 (text head, chunked / length)
//                 ├─ HttpRequest ─▶ Exchange ┤
//   Http2Session ─┘   ◀─ HttpResponse ─      └─ upstream HTTP/2 (nghttp2 client stream)
//
// Views stay valid only as long as their producer documents (see Downstream::release_head and
// UpstreamRequest). Thread: any (plain data).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proxy/http1_parser.h"

namespace sy::proxy {

using Field = http1::Header;  // name (any case; HTTP/2 names are lower case) and value views

enum class Protocol : uint8_t { Http10, Http11, Http2 };

// How a message body is delimited, whatever the wire framing.
enum class BodySize : uint8_t {
  None,     // no body (GET without body, HEAD responses, 204, 304, 1xx)
  Known,    // exactly |content_length| bytes (Content-Length / content-length)
  Unknown,  // until the end: chunked, HTTP/2 DATA without content-length, read-until-close
};

// Where the Host an HTTP/1.1 upstream sees comes from (RFC 9112 3.2, RFC 9113 8.3.1).
enum class HostRule : uint8_t {
  AsReceived,       // origin-form HTTP/1.x: the Host field in place (authority = its value)
  FromTarget,       // absolute-form HTTP/1.x: every Host field is replaced by the target's
                    // authority, in place (the received Host may name another tenant)
  FromPseudoField,  // HTTP/2 with :authority: "Host: <authority>" first, host fields dropped
                    // (they were checked to agree with :authority)
};

struct HttpRequest {
  std::string_view method;
  std::string_view target;        // origin-form (or "*") path and query as forwarded; no fragment
  std::string_view authority;     // routed on, forwarded as Host / :authority; "" = none (1.0)
  std::string_view scheme;        // HTTP/2 :scheme; "" over HTTP/1.x
  const Field* fields = nullptr;  // as received, in order (HTTP/2: no pseudo-header fields)
  size_t num_fields = 0;
  Protocol protocol = Protocol::Http11;
  HostRule host_rule = HostRule::AsReceived;
  BodySize body = BodySize::None;
  uint64_t content_length = 0;     // BodySize::Known
  bool keep_alive = true;          // HTTP/1.x: the client keeps the connection (1.0/close rules)
  bool expect_continue = false;    // "Expect: 100-continue"
  bool announces_trailer = false;  // a "trailer" field: trailer fields follow the body
  std::string_view content_type;   // "" = none (routing's login_form rule reads it)
  // HTTP/1.1 "Upgrade" value of a request that asks for one ("Connection: upgrade" and no
  // body): forwarded to an HTTP/1.1 member, whose 101 turns the exchange into a tunnel.
  // "" = none (the Upgrade field is then hop-by-hop like any other and dropped).
  std::string_view upgrade;
  // An HTTP/2 extended CONNECT (RFC 8441; method "CONNECT", |upgrade| = its :protocol,
  // "websocket"): forwarded to an HTTP/1.1 member as a GET with Upgrade, whose 101 turns the
  // exchange into a tunnel answered 200 on the stream (Exchange::proxy).
  bool extended_connect = false;
};

struct HttpResponse {
  int status = 0;                 // 100..999
  std::string_view reason;        // HTTP/1.1 reason phrase ("" from HTTP/2: one is made up)
  const Field* fields = nullptr;  // as received, hop-by-hop ones included (the encoder drops
  size_t num_fields = 0;          // them: forwarding.h)
  BodySize body = BodySize::None;
  uint64_t content_length = 0;  // BodySize::Known
  std::string_view upgrade;     // a 101 to an upgrade request: the protocol switched to
  std::string_view set_cookie;  // a Set-Cookie value the proxy adds (sticky sessions); "" = none
};

// Who ended an exchange abnormally, and in which phase (HAProxy's SF_ERR_* x SF_FINST_*).
// The access log writes the two characters (docs/access-log.md); "--" is a normal end.
enum class Who : char {
  Nobody = '-',
  Client = 'C',         // the client aborted (closed, reset)
  ClientTimeout = 'c',  // a client-side timeout
  Server = 'S',         // the upstream failed (refused, reset, bad response)
  ServerTimeout = 's',  // an upstream timeout
  Proxy = 'P',          // the proxy refused the request (parse error, limit)
  Killed = 'K',         // killed at the drain deadline of a shutdown
  Hold = 'H',           // a hold bound passed (503 + Retry-After)
};

enum class Phase : char {
  Done = '-',  // completed
  RequestHead = 'R',
  RequestBody = 'B',
  Connect = 'C',
  ResponseHead = 'H',  // waiting for the response head
  ResponseBody = 'D',
  Held = 'W',    // waiting in the hold queue (schema disabled)
  Tunnel = 'T',  // an upgraded connection (101) relaying bytes both ways
};

struct Termination {
  Who who = Who::Nobody;
  Phase phase = Phase::Done;
  bool operator==(const Termination&) const = default;
};

}  // namespace sy::proxy
