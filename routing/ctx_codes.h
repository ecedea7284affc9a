#pragma once
// Every local answer Switchyard gives in place of the application (the CTX codes), in ONE
// table: the code, its HTTP status, its message in Switchyard's own JSON, and its text and
// category in Open-Xchange's error envelope. decide() returns a CtxCode; the proxy renders it
// with render_ctx_error() in exactly one place (proxy/forwarder.cpp); stats, the README table
// and the tests read this table too.
//
// Two envelopes (routing.errors in the YAML; the default follows the data profile):
//
//   json (own profile)  {"error":"CTX-0012","message":"context lives on another server",
//                        "context":123,"server":"app-new"}    status: the code's own (409)
//   ox   (ox profile)   {"error":"The context 123 is located in server with id 4",
//                        "error_params":[],"categories":"ERROR","code":"CTX-0012",
//                        "error_id":"4711-0-17","error_desc":"The context 123 is ..."}
//                        status: 200 by default, as OX's HTTP API answers its errors
//
// OX clients recognise "this context lives on another server" by code CTX-0012 and that text
// (com.openexchange.groupware.contexts.impl.ContextExceptionCodes.LOCATED_IN_ANOTHER_SERVER);
// CTX-0021 uses OX's own maintenance text ("Updating database ... Try again later.", TRY_AGAIN).
// The other codes are Switchyard's: their numbers are not OX's context codes.
//
// Pure: no I/O, no clock. Any thread.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "routing/directory_rows.h"

namespace sy::routing {

enum class CtxCode : uint8_t {
  NoKey,            // CTX-0001 404 no tenant key in the request
  UnknownLogin,     // CTX-0002 404 login not in the login table
  UnknownContext,   // CTX-0003 404 unknown context id
  ContextDisabled,  // CTX-0004 403 the context is disabled
  NoPool,           // CTX-0010 502 the tenant's server is unknown or has no pool here
  NoRedirectUrl,    // CTX-0011 502 moved, but the new server has no migration URL
  OtherServer,      // CTX-0012 409 new-version instance, context still on another server
  Loop,             // CTX-0013 508 loop guard: already forwarded once
  NotLoaded,        // CTX-0020 503 tenant directory not loaded yet
  HoldRefused,      // CTX-0021 503 held past a hold bound
  SchemaFailed,     // CTX-0022 503 the schema's upgrade failed; answered at once, not held
  DirectoryStale,   // CTX-0023 503 the directory may be out of date (database lost while the
                    // cluster is not STABLE): the schema may have moved; held, then this
};
inline constexpr size_t kCtxCodeCount = 12;

struct CtxCodeInfo {
  CtxCode code;
  const char* id;           // "CTX-0012"
  int status;               // the code's own HTTP status
  int retry_after;          // seconds for "Retry-After" (the condition is temporary); 0 = none
  const char* message;      // text of the json envelope
  const char* ox_text;      // text of the ox envelope; {ctx} = context id, {srv} = server id
  const char* ox_category;  // OX category: USER_INPUT, CONFIGURATION, PERMISSION_DENIED, ...
};

// The row of |code|. Static storage.
const CtxCodeInfo& ctx_info(CtxCode code);
// The row at |index| (0 .. kCtxCodeCount-1), in table order (stats use it for slot names).
const CtxCodeInfo& ctx_info_at(size_t index);
// "CTX-0012" -> OtherServer; nullopt for anything else.
std::optional<CtxCode> parse_ctx_code(std::string_view id);

enum class ErrorEnvelope { Json, Ox };

// How local errors look on one deployment (immutable after start).
struct ErrorStyle {
  ErrorEnvelope envelope = ErrorEnvelope::Json;
  int status = 0;  // HTTP status of every local error; 0 = each code's own status
};

// What an answer may name. Views must stay valid during render_ctx_error().
struct CtxDetails {
  ContextId context = 0;         // 0 = not known / not mentioned
  ServerId server_id = 0;        // 0 = none
  std::string_view server_name;  // "" = none (json envelope)
  std::string_view error_id;     // ox envelope: unique id of this answer ("" = none)
};

// Renders the body of |code| in |style| into |*body| (assigned; its capacity is reused, so a
// warm buffer allocates nothing) and returns the HTTP status to send. Content-Type is
// application/json for both envelopes.
int render_ctx_error(const ErrorStyle& style, CtxCode code, const CtxDetails& details,
                     std::string* body);

// Appends |s| as a JSON string literal (quotes, escapes) to |*out|.
void append_json_string(std::string* out, std::string_view s);

}  // namespace sy::routing
