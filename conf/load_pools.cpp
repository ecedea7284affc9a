// Pass 1: pools (from the YAML and from the admin socket's `pool add`), their members, sticky
// sessions and TLS towards the members; and the runtime checks of one pool or member.

#include "conf/load.h"

#include "conf/load_internal.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <functional>

namespace sy::conf::detail::pass1 {

void Decoder::pool_settings(const YAML::Node& node, const std::string& path, Pool* out,
                            bool members_required) {
  out->mark = positions_->find(path);
  HealthCheck* hc = &out->health_check;
  PassiveEjection* pe = &out->passive_ejection;
  mapping(
      node, path,
      {
          {"name", kRequired, name(&out->name)},
          {"version", kOptional, string(&out->version)},
          {"balance", kOptional, balance(&out->balance)},
          {"protocol", kOptional, pool_protocol(&out->protocol)},
          {"connect_timeout", kOptional, duration(&out->connect_timeout)},
          {"response_timeout", kOptional, duration(&out->response_timeout)},
          {"stream_timeout", kOptional, duration(&out->stream_timeout)},
          {"tunnel_timeout", kOptional, duration(&out->tunnel_timeout)},
          {"max_idle_connections", kOptional, integer(&out->max_idle_connections, 0, INT_MAX)},
          {"retries", kOptional, integer(&out->retries, 0, 10)},
          {"members", members_required ? kRequired : kOptional,
           list(&out->members, "member", &Decoder::member)},
          {"tls", kOptional, nested([this, out](const YAML::Node& n, const std::string& p) {
             out->tls.enabled = true;
             pool_tls(n, p, &out->tls);
           })},
          {"sticky", kOptional, nested([this, out](const YAML::Node& n, const std::string& p) {
             sticky(n, p, &out->sticky);
           })},
          {"send_proxy", kOptional, send_proxy(&out->send_proxy)},
          {"health_check", kOptional, nested([this, hc](const YAML::Node& n, const std::string& p) {
             mapping(n, p,
                     {
                         {"enabled", kOptional, boolean(&hc->enabled)},
                         {"path", kOptional, http_path(&hc->path)},
                         {"interval", kOptional, duration(&hc->interval)},
                         {"timeout", kOptional, duration(&hc->timeout)},
                         {"rise", kOptional, integer(&hc->rise, 1, 1000)},
                         {"fall", kOptional, integer(&hc->fall, 1, 1000)},
                         {"host", kOptional, host_header(&hc->host)},
                     });
           })},
          {"passive_ejection", kOptional,
           nested([this, pe](const YAML::Node& n, const std::string& p) {
             mapping(n, p,
                     {
                         {"consecutive_failures", kOptional,
                          integer(&pe->consecutive_failures, 0, INT_MAX)},
                         {"eject_for", kOptional, duration(&pe->eject_for)},
                     });
           })},
      });
}

void Decoder::pool_tls(const YAML::Node& node, const std::string& path, PoolTls* out) {
  out->mark = positions_->find(path);
  mapping(node, path,
          {
              {"verify", kOptional, boolean(&out->verify)},
              {"ca", kOptional, pem_file(&out->ca)},
              {"server_name", kOptional, server_name(&out->server_name)},
              {"cert", kOptional, pem_file(&out->cert)},
              {"key", kOptional, pem_file(&out->key)},
              {"min_version", kOptional, one_of(&out->min_version, {"1.2", "1.3"})},
              {"session_reuse", kOptional, boolean(&out->session_reuse)},
          });
}

void Decoder::member(const YAML::Node& node, const std::string& path, Member* out) {
  out->mark = positions_->find(path);
  mapping(node, path,
          {
              {"address", kRequired, member_address(out)},
              {"weight", kOptional, integer(&out->weight, 1, 256)},
              {"route", kOptional, token(&out->route, "a route (letters, digits, '-', '_')", 64)},
          });
}

// Sticky sessions (docs/configuration.md): the cookie defaults by mode.
void Decoder::sticky(const YAML::Node& node, const std::string& path, Sticky* out) {
  out->mark = positions_->find(path);
  std::string mode;
  mapping(node, path,
          {
              {"mode", kRequired, one_of(&mode, {"insert", "route"})},
              {"cookie", kOptional,
               token(&out->cookie, "a cookie name (letters, digits, '-', '_')", 64)},
              {"secret", kOptional, string(&out->secret)},
              {"secret_file", kOptional, secret_file(&out->secret)},
              {"max_age", kOptional, duration(&out->max_age)},
          });
  out->mode = mode == "route" ? StickyMode::Route : StickyMode::Insert;
  if (out->cookie.empty()) {
    out->cookie = out->mode == StickyMode::Route ? "JSESSIONID" : "SYSRV";
  }
}

Decoder::ValueFn Decoder::balance(Balance* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    if (node.IsScalar() && node.Scalar() == "cookie") {
      error(path, "bad value \"cookie\" (expected one of: round_robin, least_conn; cookie "
                  "persistence is the pool's `sticky` mapping, with `balance` as the fallback)");
      return false;
    }
    std::string text;
    if (!one_of(&text, {"round_robin", "least_conn"})(node, path)) {
      return false;
    }
    *out = text == "least_conn" ? Balance::LeastConn : Balance::RoundRobin;
    return true;
  };
}

Decoder::ValueFn Decoder::send_proxy(SendProxy* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    std::string text;
    if (!one_of(&text, {"off", "v1", "v2"})(node, path)) {
      return false;
    }
    *out = text == "v1" ? SendProxy::V1 : text == "v2" ? SendProxy::V2 : SendProxy::Off;
    return true;
  };
}

Decoder::ValueFn Decoder::pool_protocol(PoolProtocol* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    std::string text;
    if (!one_of(&text, {"http1", "h2"})(node, path)) {
      return false;
    }
    *out = text == "h2" ? PoolProtocol::Http2 : PoolProtocol::Http1;
    return true;
  };
}

Decoder::ValueFn Decoder::member_address(Member* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar()) {
      return wrong_type(node, path, "an address such as 127.0.0.1:9001");
    }
    std::string why;
    if (!parse_member_address(node.Scalar(), out, &why)) {
      error(path, why);
      return false;
    }
    return true;
  };
}

// A DNS name (letters, digits, '-', dots; labels of 1..63, at most 253 in all) or an IP literal.
Decoder::ValueFn Decoder::server_name(std::string* out) {
  return [this, out](const YAML::Node& n, const std::string& p) {
    if (!n.IsScalar()) {
      return wrong_type(n, p, "a host name or an IP address");
    }
    const std::string& text = n.Scalar();
    bool good = !text.empty() && text.size() <= 253;
    size_t label = 0;
    for (size_t i = 0; good && i < text.size(); ++i) {
      char c = text[i];
      if (c == '.') {
        good = label > 0;
        label = 0;
      } else {
        good = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-') &&
               ++label <= 63;
      }
    }
    good = good && label > 0;
    if (!good && !is_ip_literal(text)) {
      error(p, "bad server name " + quoted(text) +
                   " (expected a host name like app.example.com or an IP address)");
      return false;
    }
    *out = text;
    return true;
  };
}

// One word of letters, digits, '-' and '_' (safe in a cookie name or value, in a route suffix
// after '.', and in a log line), 1..|max| characters.
Decoder::ValueFn Decoder::token(std::string* out, std::string_view what, size_t max) {
  return [this, out, what, max](const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar()) {
      return wrong_type(node, path, std::string(what));
    }
    const std::string& text = node.Scalar();
    bool good =
        !text.empty() && text.size() <= max && std::all_of(text.begin(), text.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_';
        });
    if (!good) {
      error(path, "bad value " + quoted(text) + " (expected " + std::string(what) + ", 1.." +
                      std::to_string(max) + " characters)");
      return false;
    }
    *out = text;
    return true;
  };
}

}  // namespace sy::conf::detail::pass1

namespace sy::conf {

using detail::pass1::Decoder;
using detail::pass1::plain_or_quoted;
using detail::pass1::quoted;
using detail::pass1::split_member_address;

bool parse_pool_settings(std::string_view yaml, Pool* out, std::string* why) {
  std::vector<ConfigError> errors;
  detail::Positions positions;
  try {
    YAML::Node node = YAML::Load(std::string(yaml));
    if (!node.IsMap()) {
      *why = "pool settings: expected a mapping";
      return false;
    }
    Decoder(std::string(), &errors, &positions).runtime_pool(node, "pool", out);
  } catch (const std::exception& e) {
    *why = std::string("pool settings: ") + e.what();
    return false;
  }
  if (!errors.empty()) {
    why->clear();
    for (const auto& e : errors) {
      *why += (why->empty() ? "" : "; ") + (e.path.empty() ? "" : e.path + ": ") + e.message;
    }
    return false;
  }
  return true;
}

bool parse_member_address(const std::string& text, Member* out, std::string* why) {
  if (text.rfind("unix:", 0) == 0) {
    // sockaddr_un::sun_path holds 108 bytes with the terminating NUL.
    std::string socket_path = text.substr(5);
    if (socket_path.empty() || socket_path.front() != '/') {
      *why = "bad member address " + quoted(text) +
             " (expected unix: and an absolute path, e.g. unix:/run/app.sock)";
      return false;
    }
    if (socket_path.size() > 107) {
      *why = "unix socket path in " + quoted(text) + " is " + std::to_string(socket_path.size()) +
             " bytes long (at most 107)";
      return false;
    }
    out->address = text;
    out->host.clear();
    out->port = 0;
    out->unix_path = std::move(socket_path);
    return true;
  }
  std::string host;
  std::string_view port_text;
  int port = 0;
  if (!split_member_address(text, &host, &port_text) || port_text.empty() ||
      !std::all_of(port_text.begin(), port_text.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    *why = "bad member address " + quoted(text) +
           " (expected ip:port, [v6]:port, hostname:port or unix:/path)";
    return false;
  }
  auto parsed = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (parsed.ec != std::errc{} || port < 1 || port > 65535) {
    *why = "port " + plain_or_quoted(port_text) + " in " + quoted(text) +
           " is out of range (expected 1..65535)";
    return false;
  }
  out->address = text;
  out->host = host;
  out->port = port;
  out->unix_path.clear();
  return true;
}

std::string runtime_member_problem(const Pool& pool, const Member& member,
                                   const std::string& tls_name) {
  if (!member.unix_path.empty() && pool.tls.enabled && pool.tls.verify &&
      pool.tls.server_name.empty() && tls_name.empty()) {
    return "a unix: member of TLS pool " + pool.name +
           " needs a TLS name (--tls-name, or the pool's tls.server_name)";
  }
  if (!member.route.empty()) {
    return "";
  }
  if (pool.sticky.mode == StickyMode::Route) {
    return "pool " + pool.name + " is sticky by route and " + member.address +
           " has none (add it to the YAML with its route)";
  }
  if (pool.sticky.mode == StickyMode::Insert && pool.sticky.secret.empty()) {
    return "pool " + pool.name + " is sticky without sticky.secret, so " + member.address +
           " would have no id in the cookie (add it to the YAML with its route)";
  }
  return "";
}

}  // namespace sy::conf
