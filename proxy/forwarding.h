#pragma once
// What is forwarded, in which form, for each protocol on each side: the request head an
// upstream receives (HTTP/1.1 text or an HTTP/2 field list) and the response head a client
// receives (HTTP/1.1 text or an HTTP/2 field list). One set of rules for every combination of
// h1, h1+TLS, h2 and h2c downstream with HTTP/1.1 or HTTP/2 upstream (README, "What a request is
// routed on, and what is forwarded"):
//
//  * hop-by-hop fields and the fields a Connection field names are never forwarded (RFC 9110
//    7.6.1; HTTP/2 forbids them: RFC 9113 8.2.2); "te: trailers" alone goes to HTTP/2 upstreams
//    (gRPC needs it);
//  * field names with '_' are dropped unless allowed (nginx's underscores_in_headers);
//  * X-Forwarded-For and Forwarded: from a trusted proxy (listeners[].trusted_proxies) they
//    are kept and the peer's address appended (several fields joined); from anybody else they
//    are replaced by the peer's address alone, so a client cannot claim another's. Forwarded
//    is sent only when one was received. A client's X-Forwarded-Proto is replaced, Via: 1.1
//    switchyard is added, and the loop-guard field when a moved tenant is proxied to the other
//    version;
//  * Host: see HostRule (http_message.h); HTTP/2 cookie crumbs are joined for HTTP/1.1 (RFC 9113
//    8.2.3); a body sent chunked loses its content-length;
//  * sticky insert mode: Switchyard's own cookie is taken out of the Cookie fields (a field
//    left empty is dropped), and a response may gain its Set-Cookie (HttpResponse::set_cookie).
//
// Pure (STYLE rule 6): strings in, strings out; nothing here touches a socket, a timer or
// libevent. Thread: any.

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/cidr.h"
#include "proxy/http_message.h"

namespace sy::proxy {

inline constexpr std::string_view kViaValue = "1.1 switchyard";
// The same as an HTTP/1 field line.
inline constexpr std::string_view kViaLine = "Via: 1.1 switchyard\r\n";

// An HTTP/2 field list under construction. Names and values are copied into one arena, so the
// list stays valid after the views it was built from are gone (a retry sends it again);
// nghttp2_nv pointers are made by nv(), after the last add.
class NvList {
 public:
  void clear();
  // Adds |name| (lower-cased when |lower|) and |value|.
  void add(std::string_view name, std::string_view value, bool lower = false);
  // Adds |name| with the value |write(std::string*)| appends (no copy through a temporary);
  // nothing when it appends nothing.
  template <class Write>
  void add_written(std::string_view name, Write&& write) {
    size_t mark = arena_.size();
    Span s{static_cast<uint32_t>(mark), static_cast<uint32_t>(name.size()), 0, 0};
    arena_.append(name);
    s.value_off = static_cast<uint32_t>(arena_.size());
    write(&arena_);
    s.value_len = static_cast<uint32_t>(arena_.size() - s.value_off);
    if (s.value_len == 0) {
      arena_.resize(mark);
      return;
    }
    spans_.push_back(s);
  }
  // The entries, pointing into the arena; valid until the next add() or clear().
  nghttp2_nv* nv();
  size_t size() const { return spans_.size(); }
  std::string_view name(size_t i) const;
  std::string_view value(size_t i) const;

 private:
  struct Span {
    uint32_t name_off, name_len, value_off, value_len;
  };
  std::string arena_;
  std::vector<Span> spans_;
  std::vector<nghttp2_nv> nv_;
};

// What the proxy adds to and removes from a forwarded request (the forwarded-field policy).
struct ForwardPolicy {
  bool add_forwarded = true;         // X-Forwarded-For/-Proto and Via; false: only the rules
                                     // every hop must follow (tests of the codec rules)
  std::string_view client_ip;        // appended to X-Forwarded-For (and Forwarded's for=)
  bool keep_received = false;        // the peer is a trusted proxy: extend what it sent
  std::string_view proto;            // X-Forwarded-Proto: "http" | "https"
  std::string_view loop_guard;       // field name added with value "1"; "" = none
  bool drop_underscores = true;      // limits.underscores_in_headers false
  bool strip_expect = false;         // the proxy answers 100-continue itself
  bool chunked = false;              // HTTP/1.1 upstream: the body is sent chunked
  std::string_view fallback_host;    // Host when the request has none (the member's address)
  std::string_view upstream_scheme;  // HTTP/2 upstream :scheme ("http" | "https")
  std::string_view request_id;       // X-Request-Id to add (generated here); "" = none
  std::string_view upgrade;          // HTTP/1.1 upstream: "Upgrade: <this>" and "Connection:
                                     // upgrade" sent (the client's, hop-by-hop, are dropped)
  std::string_view strip_cookie;     // a cookie removed from the Cookie fields (sticky insert
                                     // mode: Switchyard's own); "" = none
  std::string_view websocket_key;    // HTTP/1.1 upstream of an RFC 8441 extended CONNECT:
                                     // "Sec-WebSocket-Key: <this>" (a client's is dropped)
};

// Appends the HTTP/1.1 request head (request line to blank line) for |req| to |out|; returns
// how many fields were dropped for an underscore in their name.
size_t append_upstream_h1_head(const HttpRequest& req, const ForwardPolicy& policy,
                               std::string* out);
// Fills |out| (cleared first) with the HTTP/2 request fields for |req|: pseudo-header fields
// first (:method, :scheme, :authority, :path), then the forwarded fields with lower-case names.
// Same return value.
size_t make_upstream_h2_head(const HttpRequest& req, const ForwardPolicy& policy, NvList* out);

// The client's address as far as it can be trusted: the peer's, unless the peer is a trusted
// proxy; then X-Forwarded-For is read from the right, skipping trusted proxies, and the first
// address that is not one is the client (nginx's real_ip_recursive). A malformed entry stops
// the walk at the last good address. The result points into |req| or at |peer_ip|.
std::string_view trusted_client_ip(const HttpRequest& req, std::string_view peer_ip,
                                   bool peer_trusted, const std::vector<Cidr>& trusted);

// How the response body reaches an HTTP/1.x client.
struct H1Framing {
  bool chunked = false;     // add "Transfer-Encoding: chunked" (a body of unknown length)
  bool close = false;       // add "Connection: close"
  bool keep_alive = false;  // add "Connection: keep-alive" (HTTP/1.0 client kept open)
  std::string_view upgrade;  // a 101: add "Connection: upgrade" and "Upgrade: <this>"
};

// Appends the HTTP/1.1 response head for |resp| to |out|: status line, the forwarded fields,
// Via, framing. |interim|: a 1xx (no Via, no framing fields). A 101 is not interim here: it
// is the final head of an upgraded exchange (Via, then framing.upgrade).
void append_downstream_h1_head(const HttpResponse& resp, const H1Framing& framing, bool interim,
                               std::string* out);
// Fills |out| with the HTTP/2 response fields for |resp| (":status" first, lower-case names,
// connection-specific and Connection-listed fields dropped, Via unless |interim|).
void make_downstream_h2_head(const HttpResponse& resp, bool interim, NvList* out);

// Trailer fields as text ("Name: value\r\n" lines, ChunkedDecoder::trailer()'s form) to
// HTTP/2 fields with lower-case names, and back.
void trailer_to_nv(std::string_view trailer, NvList* out);
void append_trailer_line(std::string_view name, std::string_view value, std::string* out);

// The reason phrase for |status| ("" when none is known: HTTP/1.1 allows an empty one).
std::string_view reason_phrase(int status);

}  // namespace sy::proxy
