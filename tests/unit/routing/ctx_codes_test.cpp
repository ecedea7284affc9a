// routing/ctx_codes.h: the one table of local answers and both envelopes.

#include "routing/ctx_codes.h"

#include <catch.hpp>

#include <set>
#include <string>

using namespace sy::routing;

TEST_CASE("ctx codes: the table is in enum order, ids are unique and parse back") {
  std::set<std::string> ids;
  for (size_t i = 0; i < kCtxCodeCount; ++i) {
    const CtxCodeInfo& row = ctx_info_at(i);
    CHECK(static_cast<size_t>(row.code) == i);
    CHECK(&ctx_info(row.code) == &row);
    CHECK(ids.insert(row.id).second);
    CHECK(parse_ctx_code(row.id) == row.code);
    CHECK(row.status >= 400);
  }
  CHECK_FALSE(parse_ctx_code("CTX-9999").has_value());
  CHECK(ctx_info(CtxCode::OtherServer).status == 409);
  CHECK(ctx_info(CtxCode::HoldRefused).retry_after == 1);
  CHECK(ctx_info(CtxCode::ContextDisabled).retry_after == 0);
  // A failed schema waits for an operator: its own code, 503, and a longer Retry-After.
  CHECK(std::string(ctx_info(CtxCode::SchemaFailed).id) == "CTX-0022");
  CHECK(ctx_info(CtxCode::SchemaFailed).status == 503);
  CHECK(ctx_info(CtxCode::SchemaFailed).retry_after == 60);
  // A stale directory (database gone mid-upgrade): its own code, temporary, a short retry.
  CHECK(std::string(ctx_info(CtxCode::DirectoryStale).id) == "CTX-0023");
  CHECK(ctx_info(CtxCode::DirectoryStale).status == 503);
  CHECK(ctx_info(CtxCode::DirectoryStale).retry_after == 5);
}

TEST_CASE("ctx codes: the own JSON envelope, with the code's own status") {
  std::string body;
  CtxDetails d;
  d.context = 123;
  d.server_id = 4;
  d.server_name = "app-\"new\"";
  d.error_id = "ignored";
  CHECK(render_ctx_error(ErrorStyle{}, CtxCode::OtherServer, d, &body) == 409);
  CHECK(body == R"({"error":"CTX-0012","message":"context lives on another server","context":123,)"
                R"("server":"app-\"new\""})");
  CHECK(render_ctx_error(ErrorStyle{}, CtxCode::NoKey, CtxDetails{}, &body) == 404);
  CHECK(body == R"({"error":"CTX-0001","message":"no tenant in request"})");
  // A configured status replaces every code's own.
  CHECK(render_ctx_error(ErrorStyle{ErrorEnvelope::Json, 418}, CtxCode::NoKey, {}, &body) == 418);
}

TEST_CASE("ctx codes: Open-Xchange's envelope, HTTP 200 by default there") {
  ErrorStyle ox{ErrorEnvelope::Ox, 200};
  std::string body;
  CtxDetails d;
  d.context = 123;
  d.server_id = 4;
  d.server_name = "oxserver-8";
  d.error_id = "4711-0-1";
  CHECK(render_ctx_error(ox, CtxCode::OtherServer, d, &body) == 200);
  CHECK(body == R"({"error":"The context 123 is located in server with id 4","error_params":[],)"
                R"("categories":"ERROR","code":"CTX-0012","error_id":"4711-0-1",)"
                R"("error_desc":"The context 123 is located in server with id 4"})");
  CHECK(render_ctx_error(ox, CtxCode::HoldRefused, d, &body) == 200);
  CHECK(body.find(R"("code":"CTX-0021")") != std::string::npos);
  CHECK(body.find(R"("categories":"TRY_AGAIN")") != std::string::npos);
  CHECK(body.find("Updating database ... Try again later.") != std::string::npos);
  // Native statuses are available with the OX envelope too.
  CHECK(render_ctx_error(ErrorStyle{ErrorEnvelope::Ox, 0}, CtxCode::ContextDisabled, d, &body) ==
        403);
  CHECK(body.find(R"("error":"Context 123 is disabled.")") != std::string::npos);
}

TEST_CASE("ctx codes: a warm buffer is reused") {
  std::string body;
  body.reserve(512);
  const char* data = body.data();
  CtxDetails d;
  d.context = 1;
  d.server_id = 2;
  d.error_id = "1-0-1";
  for (size_t i = 0; i < kCtxCodeCount; ++i) {
    render_ctx_error(ErrorStyle{ErrorEnvelope::Ox, 200}, ctx_info_at(i).code, d, &body);
    render_ctx_error(ErrorStyle{}, ctx_info_at(i).code, d, &body);
  }
  CHECK(body.data() == data);
}
