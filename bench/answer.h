#pragma once
// What an answer means to the load generator's users: pure functions, unit-tested in
// tests/unit/bench/answer_test.cpp.
//
// A request fails when it got no answer (|status| 0: connection error or timeout), a status
// >= 400, or an application error code in its JSON body: Switchyard's own errors
// ({"error":"CTX-0021","message":...}) and Open-Xchange-style envelopes, which an OX node
// sends with HTTP 200 ({"error":"...","code":"SES-0203",...}).

#include <string>
#include <string_view>

namespace sy::bench {

// The application error code in |body|: the value of "error" when it looks like a code
// (letters, '-', digits: "CTX-0021"), else the value of "code" when it does. "" when none.
std::string find_error_code(std::string_view body);

// Whether an answer with |status| (0 = none) and |error_code| (from find_error_code) failed.
bool is_failure(int status, std::string_view error_code);

}  // namespace sy::bench
