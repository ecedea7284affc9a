#include "routing/ctx_codes.h"

#include <charconv>

namespace sy::routing {

namespace {

// The table. Order = CtxCode order (checked by the unit test).
constexpr CtxCodeInfo kTable[kCtxCodeCount] = {
    {CtxCode::NoKey, "CTX-0001", 404, 0, "no tenant in request",
     "No context could be determined from the request.", "USER_INPUT"},
    {CtxCode::UnknownLogin, "CTX-0002", 404, 0, "unknown login",
     "The login does not map to a context.", "USER_INPUT"},
    {CtxCode::UnknownContext, "CTX-0003", 404, 0, "unknown context", "Cannot find context {ctx}.",
     "CONFIGURATION"},
    {CtxCode::ContextDisabled, "CTX-0004", 403, 0, "context disabled", "Context {ctx} is disabled.",
     "PERMISSION_DENIED"},
    {CtxCode::NoPool, "CTX-0010", 502, 0, "no pool for server",
     "No server is available for context {ctx}.", "SERVICE_DOWN"},
    {CtxCode::NoRedirectUrl, "CTX-0011", 502, 0, "context moved but its server has no redirect URL",
     "Context {ctx} moved to server {srv}, which has no address for clients.", "CONFIGURATION"},
    {CtxCode::OtherServer, "CTX-0012", 409, 0, "context lives on another server",
     "The context {ctx} is located in server with id {srv}", "ERROR"},
    {CtxCode::Loop, "CTX-0013", 508, 0, "redirect loop stopped",
     "A redirect loop was stopped for context {ctx}.", "CONFIGURATION"},
    {CtxCode::NotLoaded, "CTX-0020", 503, 1, "tenant directory not loaded yet",
     "The context directory is not loaded yet. Try again later.", "SERVICE_DOWN"},
    {CtxCode::HoldRefused, "CTX-0021", 503, 1, "tenant is being migrated; retry shortly",
     "Updating database ... Try again later.", "TRY_AGAIN"},
    // An operator has to fix the update task first: a minute, not a second, between retries.
    {CtxCode::SchemaFailed, "CTX-0022", 503, 60,
     "the tenant's database update failed; an operator is needed",
     "Updating database failed for context {ctx}. Try again later.", "TRY_AGAIN"},
    // The database is gone while schemas move: a few seconds, as a reconnect takes.
    {CtxCode::DirectoryStale, "CTX-0023", 503, 5,
     "tenant directory out of date (database unreachable during an upgrade); retry shortly",
     "The location of context {ctx} cannot be confirmed right now. Try again later.", "TRY_AGAIN"},
};

void append_number(std::string* out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;  // 24 bytes hold any uint64_t
  out->append(buf, end);
}

// |text| with {ctx} and {srv} replaced by the numbers.
void append_ox_text(std::string* out, std::string_view text, const CtxDetails& d) {
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, 5, "{ctx}") == 0) {
      append_number(out, d.context);
      i += 5;
    } else if (text.compare(i, 5, "{srv}") == 0) {
      append_number(out, d.server_id);
      i += 5;
    } else {
      *out += text[i++];
    }
  }
}

}  // namespace

const CtxCodeInfo& ctx_info(CtxCode code) { return kTable[static_cast<size_t>(code)]; }

const CtxCodeInfo& ctx_info_at(size_t index) { return kTable[index]; }

std::optional<CtxCode> parse_ctx_code(std::string_view id) {
  for (const CtxCodeInfo& row : kTable) {
    if (id == row.id) {
      return row.code;
    }
  }
  return std::nullopt;
}

void append_json_string(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  *out += '"';
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
    case '"': *out += "\\\""; break;
    case '\\': *out += "\\\\"; break;
    case '\n': *out += "\\n"; break;
    case '\r': *out += "\\r"; break;
    case '\t': *out += "\\t"; break;
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

int render_ctx_error(const ErrorStyle& style, CtxCode code, const CtxDetails& d,
                     std::string* body) {
  const CtxCodeInfo& info = ctx_info(code);
  body->clear();
  if (style.envelope == ErrorEnvelope::Json) {
    body->append("{\"error\":\"").append(info.id).append("\",\"message\":");
    append_json_string(body, info.message);
    if (d.context != 0) {
      body->append(",\"context\":");
      append_number(body, d.context);
    }
    if (!d.server_name.empty()) {
      body->append(",\"server\":");
      append_json_string(body, d.server_name);
    }
    body->push_back('}');
  } else {
    // The texts hold only digits besides the table's own characters: no escaping needed, and
    // "error" and "error_desc" are the same English text, as OX sends when it has no
    // translation.
    const size_t text_at = body->size();
    body->append("{\"error\":\"");
    append_ox_text(body, info.ox_text, d);
    const size_t text_end = body->size();
    body->append("\",\"error_params\":[],\"categories\":\"").append(info.ox_category);
    body->append("\",\"code\":\"").append(info.id).append("\",\"error_id\":");
    append_json_string(body, d.error_id);
    body->append(",\"error_desc\":\"");
    const size_t text_start = text_at + 10;  // after {"error":"
    const size_t n = text_end - text_start;
    body->reserve(body->size() + n + 2);  // no reallocation while copying from itself
    body->append(body->data() + text_start, n);
    body->append("\"}");
  }
  return style.status != 0 ? style.status : info.status;
}

}  // namespace sy::routing
