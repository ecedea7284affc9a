#include "routing/decide.h"

#include <algorithm>
#include <string_view>

namespace sy::routing {

namespace {

Reject reject(CtxCode code, ContextId context = 0, const ServerRow* server = nullptr) {
  return Reject{code, context, server};
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
      return reject(CtxCode::NoKey);
    }
    // The listener the request came in on names its pool: that is the default.
    int pool = f.listener_pool >= 0 ? f.listener_pool : c.default_pool;
    if (pool < 0) {
      return reject(CtxCode::NoPool);
    }
    return Proxy{pool, kNoSchema, 0};
  }

  ContextId id = key.id;
  if (key.kind == ContextKey::Login) {
    std::string_view login = key.login;
    if (c.login_style == LoginStyle::OxContextPart) {
      const size_t at = login.rfind('@');
      login = at == std::string_view::npos ? std::string_view(c.default_context_login)
                                           : login.substr(at + 1);
    }
    auto found = s.find_login(login);
    if (!found) {
      return reject(CtxCode::UnknownLogin);
    }
    id = *found;
  }
  const ContextInfo* ctx = s.find_context(id);
  if (ctx == nullptr) {
    return reject(CtxCode::UnknownContext, id);
  }
  if (!ctx->enabled) {
    return reject(CtxCode::ContextDisabled, id);
  }
  if (!s.schema_enabled(ctx->schema)) {
    // A failed schema is not about to be enabled: holding would only delay the same 503.
    if (s.schema_failed(ctx->schema)) {
      return reject(CtxCode::SchemaFailed, id);
    }
    return Hold{ctx->schema, id, f.directory_stale};
  }

  // The served check needs only the pool index, so the common case never looks at the row.
  ServerId server_id = s.effective_server(*ctx);
  int pool = s.pool_of_server(server_id);
  if (pool >= 0 &&
      std::find(c.served_pools.begin(), c.served_pools.end(), pool) != c.served_pools.end()) {
    // A stale snapshot cannot tell an old instance whether this schema has moved meanwhile;
    // a new instance serves only what moved to it, and a move is not undone.
    if (f.directory_stale && c.role == Role::Old) {
      return Hold{ctx->schema, id, true};
    }
    return Proxy{pool, ctx->schema, id};
  }
  const ServerRow* server = s.server(server_id);
  if (server == nullptr) {
    return reject(CtxCode::NoPool, id);
  }
  if (c.role == Role::New) {
    // Never redirect backwards: an old-version URL could send the client straight back here.
    return reject(CtxCode::OtherServer, id, server);
  }

  // Role Old: the context moved to a server this instance does not serve. The guard comes
  // first: a request that already went through a Switchyard hop and still lands on an old
  // instance means the topology is wrong, and neither forwarding nor redirecting would end.
  if (!c.loop_guard_header.empty() && has_header(f, c.loop_guard_header)) {
    return reject(CtxCode::Loop, id, server);
  }
  if (c.moved == MovedAction::Proxy && pool >= 0) {
    return Proxy{pool, ctx->schema, id, true};
  }
  std::string_view base = server->redirect_url;
  while (!base.empty() && base.back() == '/') {
    base.remove_suffix(1);
  }
  if (!usable_url(base)) {
    return reject(CtxCode::NoRedirectUrl, id, server);
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
