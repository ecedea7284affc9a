// Pass 1: what clients and operators connect to: listeners, their TLS certificates, and the
// admin socket (unix and TCP) with its access levels.

#include "conf/load.h"

#include "conf/load_internal.h"

#include <yaml-cpp/yaml.h>

#include <arpa/inet.h>

#include <functional>

namespace sy::conf::detail::pass1 {

void Decoder::listener(const YAML::Node& node, const std::string& path, Listener* out) {
  out->mark = positions_->find(path);
  mapping(node, path,
          {
              {"name", kRequired, name(&out->name)},
              {"address", kOptional, ip_address(&out->address)},
              {"port", kRequired, integer(&out->port, 0, 65535)},
              {"pool", kRequired, name(&out->pool)},
              {"backlog", kOptional, integer(&out->backlog, 1, INT_MAX)},
              {"max_connections", kOptional, integer(&out->max_connections, 0, INT_MAX)},
              {"trusted_proxies", kOptional, cidr_list(&out->trusted_proxies)},
              {"proxy_protocol", kOptional, boolean(&out->proxy_protocol)},
              {"tls", kOptional, nested([this, out](const YAML::Node& n, const std::string& p) {
                 out->tls.enabled = true;
                 listener_tls(n, p, &out->tls);
               })},
          });
  out->proxy_protocol_mark = positions_->find(path + ".proxy_protocol");
}

void Decoder::listener_tls(const YAML::Node& node, const std::string& path, ListenerTls* out) {
  out->mark = positions_->find(path);
  mapping(node, path,
          {
              {"certificates", kRequired,
               list(&out->certificates, "certificate", &Decoder::tls_certificate)},
              {"min_version", kOptional, one_of(&out->min_version, {"1.2", "1.3"})},
              {"handshake_timeout", kOptional, duration(&out->handshake_timeout)},
              {"session_tickets", kOptional, boolean(&out->session_tickets)},
          });
}

void Decoder::tls_certificate(const YAML::Node& node, const std::string& path,
                              TlsCertificate* out) {
  out->mark = positions_->find(path);
  mapping(node, path,
          {
              {"cert", kRequired, pem_file(&out->cert)},
              {"key", kRequired, pem_file(&out->key)},
          });
}

Decoder::ValueFn Decoder::admin_level(AdminLevel* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    std::string text;
    if (!one_of(&text, {"admin", "read-only"})(node, path)) {
      return false;
    }
    *out = text == "read-only" ? AdminLevel::ReadOnly : AdminLevel::Admin;
    return true;
  };
}

// Permission bits written as an octal string ("0600", "660"); a plain integer would be read
// as decimal by YAML, so only the quoted form is accepted.
Decoder::ValueFn Decoder::file_mode(int* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar() || node.Tag() != "!") {
      return wrong_type(node, path, "an octal mode in quotes, e.g. \"0600\"");
    }
    const std::string& text = node.Scalar();
    int value = 0;
    bool good = !text.empty() && text.size() <= 4;
    for (size_t i = 0; good && i < text.size(); ++i) {  // stops at the first bad digit: a
      good = text[i] >= '0' && text[i] <= '7';          // long bad value never overflows
      value = value * 8 + (text[i] - '0');
    }
    if (!good || value > 0777) {
      error(path, "bad mode " + quoted(text) + " (expected an octal mode such as \"0600\")");
      return false;
    }
    *out = value;
    return true;
  };
}

namespace {
bool is_loopback(const std::string& text) {
  in_addr v4;
  in6_addr v6;
  return (inet_pton(AF_INET, text.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127) ||
         (inet_pton(AF_INET6, text.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6));
}
}  // namespace

Decoder::ValueFn Decoder::loopback_address(std::string* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    std::string text;
    if (!ip_address(&text)(node, path)) {
      return false;
    }
    if (!is_loopback(text)) {
      error(path, "address " + quoted(text) +
                      " is not a loopback address (expected 127.0.0.1 or ::1: the admin TCP "
                      "listener must not be reachable from the network)");
      return false;
    }
    *out = text;
    return true;
  };
}

void Decoder::admin(const YAML::Node& node, const std::string& path, Admin* out) {
  out->mark = positions_->find(path);
  AdminSocket* sock = &out->socket;
  AdminTcp* tcp = &out->tcp;
  AdminHttp* http = &out->http;
  AdminUpdateTasks* tasks = &out->update_tasks;
  mapping(
      node, path,
      {
          {"socket", kOptional, nested([this, sock](const YAML::Node& n, const std::string& p) {
             sock->enabled = true;
             sock->mark = positions_->find(p);
             mapping(n, p,
                     {
                         {"path", kRequired, string(&sock->path)},
                         {"mode", kOptional, file_mode(&sock->mode)},
                         {"level", kOptional, admin_level(&sock->level)},
                         {"max_connections", kOptional, integer(&sock->max_connections, 1, 10000)},
                     });
           })},
          {"tcp", kOptional, nested([this, tcp](const YAML::Node& n, const std::string& p) {
             tcp->enabled = true;
             tcp->mark = positions_->find(p);
             mapping(n, p,
                     {
                         {"address", kOptional, loopback_address(&tcp->address)},
                         {"port", kRequired, integer(&tcp->port, 0, 65535)},
                         {"token_file", kRequired, string(&tcp->token_file)},
                         {"level", kOptional, admin_level(&tcp->level)},
                         {"max_connections", kOptional, integer(&tcp->max_connections, 1, 10000)},
                     });
           })},
          {"http", kOptional, nested([this, http](const YAML::Node& n, const std::string& p) {
             http->enabled = true;
             http->mark = positions_->find(p);
             mapping(n, p,
                     {
                         {"address", kOptional, ip_address(&http->address)},
                         {"port", kRequired, integer(&http->port, 0, 65535)},
                         {"token_file", kOptional, string(&http->token_file)},
                     });
             http->loopback = is_loopback(http->address);
           })},
          {"event_hook", kOptional, string(&out->event_hook)},
          {"drain_timeout", kOptional, duration(&out->drain_timeout)},
          {"live_within", kOptional, duration(&out->live_within)},
          {"driver_lease", kOptional, duration(&out->driver_lease)},
          {"update_tasks", kOptional,
           nested([this, tasks](const YAML::Node& n, const std::string& p) {
             mapping(n, p,
                     {
                         {"sql_dir", kOptional, string(&tasks->sql_dir)},
                         {"command", kOptional, string(&tasks->command)},
                         {"command_timeout", kOptional, duration(&tasks->command_timeout)},
                     });
           })},
      });
}

}  // namespace sy::conf::detail::pass1
