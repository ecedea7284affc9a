#pragma once
// Sticky sessions (cookie persistence, docs/configuration.md "Sticky sessions"), the pure part:
// finding a cookie in a request's Cookie fields, dropping one from a forwarded Cookie value,
// a member's id in the cookie and the Set-Cookie value that names it.
//
//   insert: the request's <cookie>=<id> names the member (HAProxy's `cookie SRV insert
//           indirect`); Switchyard sets it when the member that answered is not the one the
//           request named, and strips it from what the member receives.
//   route:  the application's session cookie "<session>.<route>" names the member by its
//           suffix (Tomcat's jvmRoute, mod_proxy_balancer's stickysession); read, never changed.
//
// A member's id is its configured `route`, else the first 8 bytes (16 hex digits) of
// HMAC-SHA256(sticky.secret, "<pool>\n<address>"): opaque, stable across restarts and across
// the instances that share the configuration, and never the address. Lookups are string_view
// scans of the fields as received: nothing is allocated per request (the Set-Cookie value is
// built once per member, at start). Thread: any.

#include <cstddef>
#include <string>
#include <string_view>

#include "conf/config.h"
#include "proxy/http_message.h"

namespace sy::proxy {

// The value of the first cookie called |name| in the Cookie fields among |fields| (HTTP/2
// crumbs included), surrounding double quotes removed; "" when there is none.
std::string_view find_cookie(const Field* fields, size_t num_fields, std::string_view name);

// Appends the cookie pairs of |value| (one Cookie field value) other than those called |name|
// to |out|, "; " between them; |separate| puts "; " before the first one appended too. An
// empty |name| drops nothing.
void append_cookie_without(std::string_view value, std::string_view name, bool separate,
                           std::string* out);

// The route of an application session value: what follows its last '.' ("" when none).
std::string_view route_of(std::string_view session);

// The id in the sticky cookie of the member of |pool| at |address| ("host:port" or
// "unix:/path" as configured) with |route| ("" = none): see the top of this file.
std::string sticky_member_id(const conf::Pool& pool, std::string_view route,
                             std::string_view address);

// The Set-Cookie value naming |id|: "<cookie>=<id>; Path=/; HttpOnly; SameSite=Lax", with
// "; Max-Age=<s>" when sticky.max_age is set and "; Secure" when |secure| (a TLS listener).
std::string sticky_set_cookie(const conf::Sticky& sticky, std::string_view id, bool secure);

}  // namespace sy::proxy
