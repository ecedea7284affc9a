// HTTP/1.1 response parsing (the proxy's own strict codec) and the HTTP/2 client session
// (nghttp2) of the load generator's Worker (see load_worker.h).
#include "bench/load_worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "admin/protocol.h"
#include "bench/answer.h"

namespace sy::bench {

bool Worker::parse_h1(Conn* c) {
  while (c->h1_req != nullptr && c->in_off < c->in.size()) {
    const char* p = c->in.data() + c->in_off;
    size_t n = c->in.size() - c->in_off;
    if (!c->head_done) {
      http1::Header headers[64];
      http1::ResponseHead head;
      head.headers = headers;
      http1::Limits lim;
      lim.max_headers = 64;
      http1::ParseResult pr = http1::parse_response(p, n, lim, &head);
      if (pr.status == http1::ParseStatus::Incomplete) {
        return true;
      }
      if (pr.status == http1::ParseStatus::Error) {
        return false;
      }
      c->in_off += pr.consumed;
      if (head.status < 200) {
        continue;  // interim answer
      }
      c->head_done = true;
      c->status = head.status;
      c->keep_alive = head.keep_alive;
      c->body_kind = http1::response_body_kind(head, false);
      c->body_left = head.content_length;
      c->chunked = http1::ChunkedDecoder();
      c->body.clear();
      c->location.clear();
      c->capture = c->status >= 300;
      for (size_t i = 0; i < head.num_headers; ++i) {
        if (http1::iequals(headers[i].name, "location")) {
          c->location = std::string(headers[i].value);
        } else if (http1::iequals(headers[i].name, "content-type") &&
                   headers[i].value.find("json") != std::string_view::npos) {
          c->capture = true;
        }
      }
      if (c->body_kind == http1::BodyKind::Length && c->body_left == 0) {
        c->body_kind = http1::BodyKind::None;
      }
    } else if (c->body_kind == http1::BodyKind::Length) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(c->body_left, n));
      keep_body(c, p, take);
      c->in_off += take;
      c->body_left -= take;
      if (c->body_left == 0) {
        c->body_kind = http1::BodyKind::None;
      }
    } else if (c->body_kind == http1::BodyKind::Chunked) {
      if (c->chunked.data_remaining() > 0) {
        size_t take = static_cast<size_t>(std::min<uint64_t>(c->chunked.data_remaining(), n));
        keep_body(c, p, take);
        c->chunked.consume_data(take);
        c->in_off += take;
      } else {
        http1::ParseResult pr = c->chunked.parse_framing(p, n);
        if (pr.status == http1::ParseStatus::Error) {
          return false;
        }
        c->in_off += pr.consumed;
        if (pr.status == http1::ParseStatus::Incomplete) {
          return true;
        }
        if (c->chunked.done()) {
          c->body_kind = http1::BodyKind::None;
        }
      }
    } else if (c->body_kind == http1::BodyKind::UntilClose) {
      keep_body(c, p, n);
      c->in_off += n;
      return true;
    }
    if (c->head_done && c->body_kind == http1::BodyKind::None) {
      Req* r = c->h1_req;
      c->h1_req = nullptr;
      c->head_done = false;
      std::string body = std::move(c->body);
      std::string loc = std::move(c->location);
      int status = c->status;
      bool keep = c->keep_alive;
      c->answered++;
      finish(r, status, body, loc);
      if (!keep) {
        return false;
      }
    }
  }
  if (c->in_off == c->in.size()) {
    c->in.clear();
    c->in_off = 0;
  }
  return true;
}

void Worker::keep_body(Conn* c, const char* p, size_t n) {
  if (c->capture && c->body.size() < kCaptureBytes) {
    c->body.append(p, std::min(n, kCaptureBytes - c->body.size()));
  }
}

ssize_t Worker::h2_read_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                             uint32_t* flags, nghttp2_data_source* src, void*) {
  auto* st = static_cast<H2Stream*>(src->ptr);
  size_t n = std::min(length, st->req_body.size() - st->req_body_off);
  std::memcpy(buf, st->req_body.data() + st->req_body_off, n);
  st->req_body_off += n;
  if (st->req_body_off == st->req_body.size()) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  }
  return static_cast<ssize_t>(n);
}

H2Stream* Worker::new_stream() {
  if (free_streams_.empty()) {
    return new H2Stream;
  }
  H2Stream* st = free_streams_.back();
  free_streams_.pop_back();
  return st;
}

void Worker::release_stream(H2Stream* st) {
  st->req = nullptr;
  st->status = 0;
  st->location.clear();
  st->body.clear();
  st->req_body.clear();
  st->req_body_off = 0;
  free_streams_.push_back(st);
}

void Worker::send_h2(Conn* c, Req* r) {
  H2Stream* st = new_stream();
  st->req = r;
  st->host = host_for(r);
  char id[24];
  auto n = std::to_chars(id, id + sizeof id, r->tenant).ptr - id;
  st->tenant.clear();
  bool cookie = (o_.tenant_in == TenantIn::Cookie || o_.tenant_in == TenantIn::Login) && !r->login;
  if (cookie) {
    st->tenant = o_.cookie_name;
    st->tenant += '=';
  }
  st->tenant.append(id, static_cast<size_t>(n));
  constexpr uint8_t kNoCopy = NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
  auto nv = [](std::string_view name, std::string_view value) {
    return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                      reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                      value.size(), kNoCopy};
  };
  std::vector<nghttp2_nv>& hdrs = nv_scratch_;
  hdrs.resize(8 + extra_h2_.size());
  size_t nh = 0;
  hdrs[nh++] = nv(":method", r->login ? "POST" : "GET");
  hdrs[nh++] = nv(":scheme", r->tgt->url.tls ? "https" : "http");
  hdrs[nh++] = nv(":authority", st->host);
  hdrs[nh++] = nv(":path", r->target);
  if (o_.tenant_in == TenantIn::Header) {
    hdrs[nh++] = nv(tenant_header_lower_, st->tenant);
  } else if (cookie) {
    hdrs[nh++] = nv("cookie", st->tenant);
  }
  for (const auto& [name, value] : extra_h2_) {
    hdrs[nh++] = nv(name, value);
  }
  nghttp2_data_provider prov{};
  if (r->login) {
    st->req_body = login_body(r);
    st->location = std::to_string(st->req_body.size());  // content-length, until the answer
    hdrs[nh++] = nv("content-type", "application/x-www-form-urlencoded");
    hdrs[nh++] = nv("content-length", st->location);
    prov.source.ptr = st;
    prov.read_callback = &Worker::h2_read_body;
  }
  int32_t id32 =
      nghttp2_submit_request(c->h2, nullptr, hdrs.data(), nh, r->login ? &prov : nullptr, st);
  if (id32 < 0) {
    release_stream(st);
    fail(r, false);
    return;
  }
  st->id = id32;
  c->link(st);
}

int Worker::h2_on_header(nghttp2_session* s, const nghttp2_frame* frame, const uint8_t* name,
                         size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void*) {
  if (frame->hd.type != NGHTTP2_HEADERS) {
    return 0;
  }
  auto* st = static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(s, frame->hd.stream_id));
  if (st == nullptr) {
    return 0;
  }
  std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":status") {
    int code = std::atoi(std::string(v).c_str());
    if (code >= 200) {
      st->status = code;
    }
  } else if (n == "location") {
    st->location = std::string(v);  // replaces a login's content-length kept until now
  }
  return 0;
}

int Worker::h2_on_data(nghttp2_session* s, uint8_t, int32_t stream_id, const uint8_t* data,
                       size_t len, void*) {
  auto* st = static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(s, stream_id));
  if (st != nullptr &&
      (st->status >= 300 || (st->body.empty() && len > 0 && data[0] == '{') || !st->body.empty()) &&
      st->body.size() < kCaptureBytes) {
    st->body.append(reinterpret_cast<const char*>(data),
                    std::min(len, kCaptureBytes - st->body.size()));
  }
  return 0;
}

int Worker::h2_on_close(nghttp2_session* s, int32_t stream_id, uint32_t error_code, void* user) {
  auto* c = static_cast<Conn*>(user);
  auto* st = static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(s, stream_id));
  if (st == nullptr) {
    return 0;
  }
  nghttp2_session_set_stream_user_data(s, stream_id, nullptr);
  c->unlink(st);
  Req* r = st->req;
  if (error_code == NGHTTP2_REFUSED_STREAM && st->status == 0) {
    // Not processed by the server (RFC 9113 8.7): nghttp2 also closes a request this way when
    // a GOAWAY arrived before it could be sent. Queued again (first in line) for another
    // connection; its latency keeps counting from the intended send time.
    c->w->sec(now_ns()).retried++;
    c->w->release_stream(st);
    r->tgt->queue.push_front(r);
    return 0;
  }
  c->answered++;
  int status = st->status;
  if (status < 300 || status >= 400) {
    st->location.clear();
  }
  c->w->finish(r, status, st->body, st->location);
  c->w->release_stream(st);
  return 0;
}

void Worker::start_h2(Conn* c) {
  nghttp2_session_callbacks* cbs;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &Worker::h2_on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Worker::h2_on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Worker::h2_on_close);
  nghttp2_session_client_new(&c->h2, cbs, c);
  nghttp2_session_callbacks_del(cbs);
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000},
                                 {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (1 << 30) - 1}};
  nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2);
  nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, (1 << 30) - 1);
  c->h2_ready = true;
}

void Worker::h2_pump(Conn* c) {
  for (;;) {
    const uint8_t* data;
    ssize_t n = nghttp2_session_mem_send(c->h2, &data);
    if (n <= 0) {
      break;
    }
    c->out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
}

}  // namespace sy::bench
