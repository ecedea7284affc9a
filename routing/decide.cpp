#include "routing/decide.h"

#include <algorithm>
#include <string_view>

namespace sy::routing {

namespace {

void append_json_string(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  *out += '"';
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
    case '"':
      *out += "\\\"";
      break;
    case '\\':
      *out += "\\\\";
      break;
    case '\n':
      *out += "\\n";
      break;
    case '\r':
      *out += "\\r";
      break;
    case '\t':
      *out += "\\t";
      break;
    default:
      if (c < 0x20 || c == 0x7f) {
        *out += "\\u00";
        *out += kHex[c >> 4];
        *out += kHex[c & 0xf];
      } else {
        *out += ch;
      }
    }
  }
  *out += '"';
}

// Only error paths build bodies, so allocating here costs the fast path nothing.
Reject reject(int status, std::string_view code, std::string_view message, ContextId context = 0,
              const ServerRow* server = nullptr) {
  std::string body = "{\"error\":";
  append_json_string(&body, code);
  body += ",\"message\":";
  append_json_string(&body, message);
  if (context != 0) {
    body += ",\"context\":";
    body += std::to_string(context);
  }
  if (server != nullptr) {
    body += ",\"server\":";
    append_json_string(&body, server->name);
  }
  body += '}';
  return Reject{status, std::string(code), std::move(body)};
}

bool has_header(const RequestFacts& f, std::string_view name) {
  for (size_t h = 0; h < f.header_count; ++h) {
    if (iequals(f.headers[h].name, name)) {
      return true;
    }
  }
  return false;
}

// A Location must not be able to smuggle a header line or an empty URL into the response.
bool usable_url(std::string_view url) {
  return !url.empty() && std::none_of(url.begin(), url.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c == 0x7f;
  });
}

}  // namespace

Decision decide(const RequestFacts& f, const ContextKey& key, const RoutingSnapshot& s,
                const DecideConfig& c) {
  // Order matters and mirrors the table in decide.h: cheap, request-local answers first; the
  // tenant's own state (disabled, held) before where it lives, so a paused tenant is held on
  // whichever instance it reaches instead of bouncing between versions.
  if (key.kind == ContextKey::None) {
    if (c.no_key == NoKeyPolicy::NotFound) {
      return reject(404, "CTX-0001", "no tenant in request");
    }
    // The listener the request came in on names its pool: that is the default.
    int pool = f.listener_pool >= 0 ? f.listener_pool : c.default_pool;
    if (pool < 0) {
      return reject(502, "CTX-0010", "no default pool configured");
    }
    return Proxy{pool, kNoSchema, 0};
  }

  ContextId id = key.id;
  if (key.kind == ContextKey::Login) {
    auto found = s.find_login(key.login);
    if (!found) {
      return reject(404, "CTX-0002", "unknown login");
    }
    id = *found;
  }
  const ContextInfo* ctx = s.find_context(id);
  if (ctx == nullptr) {
    return reject(404, "CTX-0003", "unknown context", id);
  }
  if (!ctx->enabled) {
    return reject(403, "CTX-0004", "context disabled", id);
  }
  if (!s.schema_enabled(ctx->schema)) {
    return Hold{ctx->schema, id};
  }

  // The served check needs only the pool index, so the common case never looks at the row.
  ServerId server_id = s.effective_server(*ctx);
  int pool = s.pool_of_server(server_id);
  if (pool >= 0 &&
      std::find(c.served_pools.begin(), c.served_pools.end(), pool) != c.served_pools.end()) {
    return Proxy{pool, ctx->schema, id};
  }
  const ServerRow* server = s.server(server_id);
  if (server == nullptr) {
    return reject(502, "CTX-0010", "no pool for server", id);
  }
  if (c.role == Role::New) {
    // Never redirect backwards: an old-version URL could send the client straight back here.
    return reject(409, "CTX-0012", "context lives on another server", id, server);
  }

  // Role Old: the context moved to a server this instance does not serve. The guard comes
  // first: a request that already went through a Switchyard hop and still lands on an old
  // instance means the topology is wrong, and neither forwarding nor redirecting would end.
  if (!c.loop_guard_header.empty() && has_header(f, c.loop_guard_header)) {
    return reject(508, "CTX-0013", "redirect loop stopped", id, server);
  }
  if (c.moved == MovedAction::Proxy && pool >= 0) {
    return Proxy{pool, ctx->schema, id, true};
  }
  std::string_view base = server->redirect_url;
  while (!base.empty() && base.back() == '/') {
    base.remove_suffix(1);
  }
  if (!usable_url(base)) {
    return reject(502, "CTX-0011", "context moved but its server has no redirect URL", id, server);
  }
  // The Host header is client-controlled; building the Location from it would be an open
  // redirect. Only the configured URL and the path+query the client sent are used.
  std::string_view target = origin_form(f.target);
  std::string location;
  location.reserve(base.size() + std::max<size_t>(target.size(), 1));
  location.append(base);
  if (target.empty()) {
    location += '/';  // "*" or an authority-only absolute form: send the client to the root
  } else {
    location.append(target);
  }
  return Redirect{std::move(location)};
}

const char* decision_name(const Decision& d) {
  // A visit over every alternative: a new kind of decision does not compile until it is named.
  struct Name {
    const char* operator()(const Proxy&) const { return "proxy"; }
    const char* operator()(const Redirect&) const { return "redirect"; }
    const char* operator()(const Hold&) const { return "hold"; }
    const char* operator()(const Reject&) const { return "reject"; }
  };
  return std::visit(Name{}, d);
}

}  // namespace sy::routing
