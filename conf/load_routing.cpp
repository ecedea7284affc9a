// Pass 1: the database Switchyard reads its routing from (profiles, DSNs, per-server overrides)
// and the routing section (which pools serve, key rules).

#include "conf/load.h"

#include "conf/load_internal.h"

#include <yaml-cpp/yaml.h>

#include <functional>

namespace sy::conf::detail::pass1 {

void Decoder::database(const YAML::Node& node, const std::string& path, Database* out) {
  auto profile = [this, out](const YAML::Node& n, const std::string& p) {
    std::string text;
    if (!one_of(&text, {"own", "sql", "ox"})(n, p)) {
      return false;
    }
    out->profile = text == "sql" ? Profile::Sql : text == "ox" ? Profile::Ox : Profile::Own;
    return true;
  };
  OxOptions* ox = &out->ox;
  mapping(node, path,
          {
              {"dsns", kRequired, list(&out->dsns, "dsn", &Decoder::dsn)},
              {"connect_timeout", kOptional, duration(&out->connect_timeout)},
              {"wait_at_start", kOptional, boolean(&out->wait_at_start)},
              {"profile", kOptional, profile},
              {"state_database", kOptional, name(&out->state_database)},
              {"state_dsns", kOptional, list(&out->state_dsns, "dsn", &Decoder::dsn)},
              {"reader_dsns", kOptional, list(&out->reader_dsns, "dsn", &Decoder::dsn)},
              {"ox", kOptional, nested([this, ox](const YAML::Node& n, const std::string& p) {
                 mapping(n, p,
                         {
                             {"maintenance_reason", kOptional,
                              integer(&ox->maintenance_reason, 1, INT_MAX)},
                             {"default_context", kOptional, string(&ox->default_context)},
                             {"checksum_interval", kOptional, duration(&ox->checksum_interval)},
                         });
               })},
              {"servers_sql", kOptional, string(&out->servers_sql)},
              {"contexts_sql", kOptional, string(&out->contexts_sql)},
              {"logins_sql", kOptional, string(&out->logins_sql)},
              {"schemas_sql", kOptional, string(&out->schemas_sql)},
              {"servers", kOptional, list(&out->servers, "server", &Decoder::server_override)},
              {"refresh_interval", kOptional, duration(&out->refresh_interval)},
              {"change_settle", kOptional, duration(&out->change_settle)},
              {"heartbeat_interval", kOptional, duration(&out->heartbeat_interval)},
              {"stale_after", kOptional, duration(&out->stale_after)},
          });
}

void Decoder::dsn(const YAML::Node& node, const std::string& path, Dsn* out) {
  out->mark = positions_->find(path);
  mapping(node, path,
          {
              {"host", kOptional, string(&out->host)},
              {"port", kOptional, integer(&out->port, 1, 65535)},
              {"user", kRequired, string(&out->user)},
              {"password", kOptional, string(&out->password)},
              {"password_file", kOptional, secret_file(&out->password)},
              {"database", kRequired, name(&out->database)},
              {"socket", kOptional, string(&out->socket)},
          });
}

void Decoder::server_override(const YAML::Node& node, const std::string& path,
                              ServerOverride* out) {
  out->mark = positions_->find(path);
  mapping(node, path,
          {
              {"name", kRequired, string(&out->name)},
              {"pool", kOptional, name(&out->pool)},
              {"version", kOptional, string(&out->version)},
              {"redirect_url", kOptional, http_url(&out->redirect_url)},
          });
}

void Decoder::routing(const YAML::Node& node, const std::string& path, Routing* out) {
  out->mark = positions_->find(path);
  Hold* hold = &out->hold;
  RoutingErrors* errors = &out->errors;
  // An HTTP status (100..599) or "native" (each code's own).
  auto status = [this, errors](const YAML::Node& n, const std::string& p) {
    if (n.IsScalar() && n.Scalar() == "native") {
      errors->status = 0;
      return true;
    }
    if (!is_plain_scalar(n)) {
      return wrong_type(n, p, "an HTTP status such as 200, or native");
    }
    return integer(&errors->status, 100, 599)(n, p);
  };
  mapping(node, path,
          {
              {"role", kRequired, one_of(&out->role, {"old", "new"})},
              {"instance_id", kOptional, name(&out->instance_id)},
              {"version", kOptional, string(&out->version)},
              {"serve_pools", kRequired, name_list(&out->serve_pools)},
              {"moved_action", kOptional, one_of(&out->moved_action, {"redirect", "proxy"})},
              {"no_key", kOptional, one_of(&out->no_key, {"not_found", "default_pool"})},
              {"loop_guard_header", kOptional, name(&out->loop_guard_header)},
              {"keys", kRequired, list(&out->keys, "key rule", &Decoder::key_rule)},
              {"hold", kOptional, nested([this, hold](const YAML::Node& n, const std::string& p) {
                 mapping(n, p,
                         {
                             {"max_requests", kOptional, integer(&hold->max_requests, 0, 1000000)},
                             {"max_bytes", kOptional, size(&hold->max_bytes, 0, "0")},
                             {"max_wait", kOptional, duration(&hold->max_wait)},
                         });
               })},
              {"errors", kOptional,
               nested([this, errors, status](const YAML::Node& n, const std::string& p) {
                 mapping(n, p,
                         {
                             {"envelope", kOptional, one_of(&errors->envelope, {"json", "ox"})},
                             {"status", kOptional, status},
                         });
               })},
          });
}

void Decoder::key_rule(const YAML::Node& node, const std::string& path, KeyRule* out) {
  out->mark = positions_->find(path);
  auto type = [this, out](const YAML::Node& n, const std::string& p) {
    static const std::vector<std::pair<std::string_view, KeyType>> kTypes = {
        {"host_regex", KeyType::HostRegex},   {"header", KeyType::Header},
        {"cookie", KeyType::Cookie},          {"path_segment", KeyType::PathSegment},
        {"path_regex", KeyType::PathRegex},   {"query", KeyType::Query},
        {"login_query", KeyType::LoginQuery}, {"login_form", KeyType::LoginForm},
    };
    std::vector<std::string_view> names;
    for (const auto& t : kTypes) {
      names.push_back(t.first);
    }
    std::string text;
    if (!one_of(&text, names)(n, p)) {
      return false;
    }
    for (const auto& t : kTypes) {
      if (t.first == text) {
        out->type = t.second;
      }
    }
    return true;
  };
  mapping(node, path,
          {
              {"type", kRequired, type},
              {"name", kOptional, string(&out->name)},
              {"index", kOptional, integer(&out->index, 0, 64)},
              {"pattern", kOptional, string(&out->pattern)},
          });
}

}  // namespace sy::conf::detail::pass1
