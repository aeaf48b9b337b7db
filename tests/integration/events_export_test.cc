// The events page's data end to end: a real collector with its dashboard, a
// policy applied through the dashboard by an operator, a real agent that
// blocks a stick with hostile strings under it, and the CSV export a viewer
// downloads over HTTPS.

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "tests/integration/web_client.h"

namespace mamori::testing {
namespace {

namespace http = boost::beast::http;

constexpr char kPolicy[] =
    "name: kita-no-sticks\n"
    "rules:\n"
    "  - name: keyboards\n"
    "    match: {class: hid}\n"
    "    action: allow\n"
    "  - name: no-sticks\n"
    "    match: {class: mass_storage}\n"
    "    action: block\n";

std::string Json(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out + "\"";
}

// Polls `probe` for up to `seconds`.
template <typename F>
bool WaitFor(F probe, int seconds = 20) {
  for (int i = 0; i < seconds * 10; ++i) {
    if (probe()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

TEST(EventsExportTest, BlockedStickComesOutOfTheCsvExportAsInertText) {
  TempDir dir;
  TestPki pki;
  WebCollector web(pki, dir);
  ASSERT_TRUE(web.Start()) << web.collector().Log();
  const WebSession op = web.Login("oscar", "operator");
  const WebSession viewer = web.Login("vera", "viewer");

  // The viewer may not apply; the operator does, through the dashboard.
  const std::string body = "{\"group\":\"osaka\",\"policyYaml\":" + Json(kPolicy) + "}";
  EXPECT_EQ(web.web().Send(http::verb::post, "/api/policies/apply", viewer, body).status, 403);
  WebReply applied = web.web().Send(http::verb::post, "/api/policies/apply", op, body);
  ASSERT_EQ(applied.status, 200) << applied.body;
  const std::string version = JsonField(applied.body, "version");
  ASSERT_FALSE(version.empty()) << applied.body;

  AgentProcess agent(pki, dir, web.collector(), "t-csv-1", "osaka/kita");
  agent.Start();
  ASSERT_TRUE(WaitFor([&] {
    return JsonField(web.web().Send(http::verb::get, "/api/terminals/t-csv-1", viewer).body,
                     "appliedPolicyVersion") == version;
  })) << agent.Log();

  agent.Plug("stick",
             "vendor_id: \"0781\"\nproduct_id: \"5581\"\nserial: \"CSV-0001\"\n"
             "manufacturer: \"@SUM(1+1)\"\n"
             "product: \"=cmd|' /C calc'!A0\"\n"
             "class: mass_storage\ninterfaces: [mass_storage]\nbus_path: \"1-2\"\n");
  ASSERT_TRUE(WaitFor([&] {
    return web.web()
               .Send(http::verb::get, "/api/events?terminal=t-csv-1&kind=blocked", viewer)
               .body.find("CSV-0001") != std::string::npos;
  })) << agent.Log();

  WebReply csv = web.web().Send(http::verb::get, "/api/events.csv?terminal=t-csv-1", viewer);
  ASSERT_EQ(csv.status, 200) << csv.body;
  EXPECT_EQ(csv.Header("Content-Type"), "text/csv; charset=utf-8");
  EXPECT_NE(csv.Header("Content-Disposition").find("attachment"), std::string::npos);
  EXPECT_EQ(csv.Header("X-Content-Type-Options"), "nosniff");
  ASSERT_TRUE(
      csv.body.starts_with("\xEF\xBB\xBF\"time (JST)\",\"terminal\",\"group\",\"user\","
                           "\"kind\",\"action\",\"vid:pid\",\"manufacturer\",\"product\","
                           "\"serial\",\"matched rule\",\"policy version\",\"detail\"\r\n"))
      << csv.body;
  const auto row_start = csv.body.find("\r\n") + 2;
  const std::string row = csv.body.substr(row_start, csv.body.find("\r\n", row_start) - row_start);
  // Time in JST with its offset, then the row's fields in order; the
  // hostile strings are quoted and defused.
  EXPECT_NE(row.find("+09:00\",\"t-csv-1\",\"osaka/kita\","), std::string::npos) << row;
  EXPECT_NE(row.find(",\"device_blocked\",\"block\",\"0781:5581\",\"'@SUM(1+1)\","
                     "\"'=cmd|' /C calc'!A0\",\"CSV-0001\",\"no-sticks\",\"" +
                     version + "\","),
            std::string::npos)
      << row;
  // One event row for the stick (the kinds default to blocked and failures).
  std::size_t rows = 0;
  for (std::size_t p = csv.body.find("CSV-0001"); p != std::string::npos;
       p = csv.body.find("CSV-0001", p + 1)) {
    ++rows;
  }
  EXPECT_EQ(rows, 1u) << csv.body;
  EXPECT_TRUE(
      web.collector().WaitForLog("'vera' exported 1 event(s) as CSV", std::chrono::seconds(5)));
}

}  // namespace
}  // namespace mamori::testing
