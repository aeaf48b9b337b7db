#pragma once

// What the tests that drive the dashboard's WebHandler directly share: a
// clock they move, API requests as the browser sends them, and the session
// a login answers with.

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>

#include "common/base/clock.h"
#include "server/web/http_handler.h"

namespace mamori::web {

class SettableClock final : public Clock {
 public:
  explicit SettableClock(int64_t start_ms = 1'700'000'000'000) : now_ms(start_ms) {}
  int64_t NowMs() const override { return now_ms.load(); }
  std::atomic<int64_t> now_ms;
};

// `verb` `target` with, when given, the session cookie, the CSRF token and a
// JSON body.
inline HttpRequest ApiRequest(boost::beast::http::verb verb, const std::string& target,
                              const std::string& cookie = "", const std::string& csrf = "",
                              const std::string& body = "") {
  namespace http = boost::beast::http;
  HttpRequest req{verb, target, 11};
  req.set(http::field::host, "dash.example");
  if (!cookie.empty()) req.set(http::field::cookie, "mamori_session=" + cookie);
  if (!csrf.empty()) req.set("X-CSRF-Token", csrf);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  return req;
}

// The body of POST /api/login.
inline std::string LoginBody(const std::string& name, const std::string& password,
                             const std::string& code) {
  return "{\"name\":\"" + name + "\",\"password\":\"" + password + "\",\"code\":\"" + code + "\"}";
}

// {session token, CSRF token} from the answer to a successful login.
inline std::pair<std::string, std::string> SessionOf(const HttpResponse& res) {
  const std::string cookie(res[boost::beast::http::field::set_cookie]);
  const auto pos = res.body().find("\"csrfToken\":\"") + 13;
  return {CookieValue(cookie, "mamori_session").substr(0, 64), res.body().substr(pos, 64)};
}

}  // namespace mamori::web
