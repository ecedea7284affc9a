// The HTTP/1 field rules shared by heads and trailers (hop-by-hop fields, what a trailer may
// carry, Connection lists) and the chunked body decoder. See http1_parser.h for the contract.

#include <cstring>

#include "proxy/http1_chars.h"
#include "proxy/http1_parser.h"

namespace sy::http1 {

using detail::finish;
using detail::for_each_element;
using detail::is;
using detail::kFieldValue;
using detail::kHex;
using detail::kToken;
using detail::lower;

bool is_hop_by_hop(std::string_view name) {
  switch (name.size()) {
  case 2: return iequals(name, "te");
  case 7: return iequals(name, "trailer") || iequals(name, "upgrade");
  case 10: return iequals(name, "connection") || iequals(name, "keep-alive");
  case 16: return iequals(name, "proxy-connection");
  case 17: return iequals(name, "transfer-encoding");
  default: return false;
  }
}

bool allowed_in_trailer(std::string_view name) {
  static constexpr std::string_view kForbidden[] = {"content-length",
                                                    "transfer-encoding",
                                                    "trailer",
                                                    "te",
                                                    "connection",
                                                    "keep-alive",
                                                    "proxy-connection",
                                                    "upgrade",
                                                    "host",
                                                    "cache-control",
                                                    "expect",
                                                    "max-forwards",
                                                    "pragma",
                                                    "range",
                                                    "if-match",
                                                    "if-none-match",
                                                    "if-modified-since",
                                                    "if-unmodified-since",
                                                    "if-range",
                                                    "authorization",
                                                    "proxy-authorization",
                                                    "www-authenticate",
                                                    "proxy-authenticate",
                                                    "cookie",
                                                    "set-cookie",
                                                    "age",
                                                    "date",
                                                    "expires",
                                                    "location",
                                                    "retry-after",
                                                    "vary",
                                                    "warning",
                                                    "content-encoding",
                                                    "content-range",
                                                    "content-type"};
  for (std::string_view f : kForbidden) {
    if (iequals(name, f)) {
      return false;
    }
  }
  return true;
}

size_t append_allowed_trailer(std::string_view trailer, bool drop_underscores, std::string* out) {
  size_t dropped = 0;
  while (!trailer.empty()) {
    size_t eol = trailer.find("\r\n");
    size_t line_len = eol == std::string_view::npos ? trailer.size() : eol + 2;
    std::string_view line = trailer.substr(0, line_len);
    trailer.remove_prefix(line_len);
    std::string_view name = line.substr(0, line.find(':'));
    if (!allowed_in_trailer(name) ||
        (drop_underscores && name.find('_') != std::string_view::npos)) {
      ++dropped;
      continue;
    }
    out->append(line.data(), line.size());
  }
  return dropped;
}

bool connection_lists(const Header* headers, size_t n, std::string_view name) {
  bool found = false;
  for (size_t i = 0; i < n && !found; ++i) {
    if (!iequals(headers[i].name, "connection")) {
      continue;
    }
    for_each_element(headers[i].value, [&](std::string_view el) {
      if (iequals(el, name)) {
        found = true;
      }
    });
  }
  return found;
}

bool connection_names_fields(const Header* headers, size_t n) {
  bool other = false;
  for (size_t i = 0; i < n && !other; ++i) {
    if (!iequals(headers[i].name, "connection")) {
      continue;
    }
    for_each_element(headers[i].value, [&](std::string_view el) {
      if (!iequals(el, "keep-alive")) {
        other = true;
      }
    });
  }
  return other;
}

// ---------------------------------------------------------------------------------------------
// ChunkedDecoder

void ChunkedDecoder::consume_data(uint64_t n) {
  data_remaining_ -= n;
  total_payload_ += n;
  if (data_remaining_ == 0 && state_ == State::Size) {
    state_ = State::DataCrlf;
  }
}

ParseResult ChunkedDecoder::parse_framing(const char* buf, size_t len) {
  size_t p = 0;
  trailer_ = std::string_view();
  auto fail_with = [&](ParseError e) {
    state_ = State::Error;
    error_ = e;
    return finish(ParseStatus::Error, 0);
  };
  for (;;) {
    switch (state_) {
    case State::Error: return finish(ParseStatus::Error, 0);
    case State::Done: return finish(ParseStatus::Complete, p);
    case State::DataCrlf: {
      if (p >= len) {
        return finish(ParseStatus::Incomplete, p);
      }
      if (buf[p] != '\r') {
        return fail_with(ParseError::BadChunkTerminator);
      }
      if (p + 1 >= len) {
        return finish(ParseStatus::Incomplete, p);
      }
      if (buf[p + 1] != '\n') {
        return fail_with(ParseError::BadChunkTerminator);
      }
      p += 2;
      state_ = State::Size;
      break;
    }
    case State::Size: {
      // chunk-size [ chunk-ext ] CRLF
      size_t q = p;
      uint64_t size = 0;
      while (q < len && is(buf[q], kHex)) {
        char c = buf[q];
        uint64_t d = static_cast<uint64_t>(c <= '9' ? c - '0' : lower(c) - 'a' + 10);
        if (size > (UINT64_MAX >> 4)) {
          return fail_with(ParseError::BadChunkSize);
        }
        size = (size << 4) | d;
        ++q;
      }
      if (q >= len) {
        return finish(ParseStatus::Incomplete, p);
      }
      if (q == p) {
        return fail_with(ParseError::BadChunkSize);
      }
      // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ); we validate bytes and
      // require the line to end in CRLF, and forward nothing of it (extensions are dropped).
      bool in_quotes = false;
      while (q < len && (buf[q] == ' ' || buf[q] == '\t')) {
        ++q;  // BWS
      }
      if (q < len && buf[q] != '\r' && buf[q] != ';') {
        return fail_with(q > p && (buf[q - 1] == ' ' || buf[q - 1] == '\t')
                             ? ParseError::BadChunkExtension
                             : ParseError::BadChunkSize);
      }
      for (; q < len; ++q) {
        if (q - p > max_trailer_bytes_) {
          return fail_with(ParseError::BadChunkExtension);  // at the same byte in any split
        }
        char c = buf[q];
        if (c == '\r' && !in_quotes) {
          break;
        }
        if (c == '"') {
          in_quotes = !in_quotes;
        } else if (c == '\\' && in_quotes) {
          ++q;  // quoted-pair
        } else if (!is(c, kFieldValue)) {
          return fail_with(ParseError::BadChunkExtension);
        }
      }
      if (q + 1 >= len) {
        return finish(ParseStatus::Incomplete, p);
      }
      if (buf[q + 1] != '\n') {
        return fail_with(ParseError::BareCR);
      }
      p = q + 2;
      if (size == 0) {
        state_ = State::Trailer;
        break;
      }
      data_remaining_ = size;
      return finish(ParseStatus::Complete, p);
    }
    case State::Trailer: {
      // trailer-section = *( field-line CRLF ) CRLF, all or nothing.
      size_t q = p;
      for (;;) {
        if (q >= len) {
          break;
        }
        if (buf[q] == '\r') {
          if (q + 1 >= len) {
            break;
          }
          if (buf[q + 1] != '\n' || q + 2 - p > max_trailer_bytes_) {
            return fail_with(ParseError::BadTrailer);
          }
          trailer_ = std::string_view(buf + p, q - p);
          state_ = State::Done;
          return finish(ParseStatus::Complete, q + 2);
        }
        // One field line: token ":" field-value CRLF. Trailer fields are forwarded as-is, so
        // they get the same byte rules as head fields.
        const char* lf = static_cast<const char*>(std::memchr(buf + q, '\n', len - q));
        if (lf == nullptr) {
          break;
        }
        size_t line_end = static_cast<size_t>(lf - buf) + 1;
        size_t r = q;
        while (r < line_end && is(buf[r], kToken)) {
          ++r;
        }
        if (r == q || buf[r] != ':' || buf[line_end - 2] != '\r') {
          return fail_with(ParseError::BadTrailer);
        }
        for (++r; r < line_end - 2; ++r) {
          if (!is(buf[r], kFieldValue)) {
            return fail_with(ParseError::BadTrailer);
          }
        }
        q = line_end;
        if (q - p > max_trailer_bytes_) {
          return fail_with(ParseError::BadTrailer);
        }
      }
      if (len - p > max_trailer_bytes_) {
        return fail_with(ParseError::BadTrailer);
      }
      return finish(ParseStatus::Incomplete, p);
    }
    }
  }
}

}  // namespace sy::http1
