#include "proxy/sticky.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace sy::proxy {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

// Calls |fn(pair, name, value)| for each "name=value" pair of a Cookie field value (RFC 6265
// 5.4: pairs separated by ';'); stops when it returns false.
template <class Fn>
void for_each_pair(std::string_view list, Fn&& fn) {
  while (!list.empty()) {
    size_t semi = list.find(';');
    std::string_view pair = trim(list.substr(0, semi));
    list = semi == std::string_view::npos ? std::string_view() : list.substr(semi + 1);
    if (pair.empty()) {
      continue;
    }
    size_t eq = pair.find('=');
    std::string_view name = trim(pair.substr(0, eq));
    std::string_view value = eq == std::string_view::npos ? std::string_view()
                                                          : trim(pair.substr(eq + 1));
    if (!fn(pair, name, value)) {
      return;
    }
  }
}

}  // namespace

std::string_view find_cookie(const Field* fields, size_t num_fields, std::string_view name) {
  for (size_t i = 0; i < num_fields; ++i) {
    if (!http1::iequals(fields[i].name, "cookie") ||
        fields[i].value.find(name) == std::string_view::npos) {
      continue;
    }
    std::string_view found;
    bool seen = false;
    for_each_pair(fields[i].value, [&](std::string_view, std::string_view n, std::string_view v) {
      if (n != name) {
        return true;
      }
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
        v = v.substr(1, v.size() - 2);
      }
      found = v;
      seen = true;
      return false;
    });
    if (seen) {
      return found;
    }
  }
  return {};
}

void append_cookie_without(std::string_view value, std::string_view name, bool separate,
                           std::string* out) {
  if (name.empty() || value.find(name) == std::string_view::npos) {  // nothing to drop
    if (!trim(value).empty()) {
      out->append(separate ? "; " : "").append(value);
    }
    return;
  }
  for_each_pair(value, [&](std::string_view pair, std::string_view n, std::string_view) {
    if (n != name) {
      out->append(separate ? "; " : "").append(pair);
      separate = true;
    }
    return true;
  });
}

std::string_view route_of(std::string_view session) {
  size_t dot = session.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : session.substr(dot + 1);
}

std::string sticky_member_id(const conf::Pool& pool, std::string_view route,
                             std::string_view address) {
  if (!route.empty()) {
    return std::string(route);
  }
  std::string data = pool.name + "\n";
  data.append(address);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  HMAC(EVP_sha256(), pool.sticky.secret.data(), static_cast<int>(pool.sticky.secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &md_len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (unsigned int i = 0; i < 8 && i < md_len; ++i) {
    id.push_back(kHex[md[i] >> 4]);
    id.push_back(kHex[md[i] & 0xf]);
  }
  return id;
}

std::string sticky_set_cookie(const conf::Sticky& sticky, std::string_view id, bool secure) {
  std::string out = sticky.cookie;
  out.append("=").append(id).append("; Path=/; HttpOnly; SameSite=Lax");
  if (sticky.max_age.count() > 0) {
    out.append("; Max-Age=").append(std::to_string(sticky.max_age.count() / 1000));
  }
  if (secure) {
    out.append("; Secure");
  }
  return out;
}

}  // namespace sy::proxy
