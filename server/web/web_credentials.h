#pragma once

#include <cstdint>

#include "common/base/result.h"
#include "server/web/web_config.h"

namespace mamori::web {

// Checks the dashboard's certificate and key files: each readable and PEM,
// the key matching the certificate, the certificate valid at `now_ms`. The
// chain is not verified: the certificate may come from the deployment's CA
// or from the organisation's own. Errors name the config field, the file
// and the problem ("web.key_file /etc/mamori/web.key: does not match the
// certificate in web.cert_file /etc/mamori/web.pem").
Status CheckWebCredentials(const WebConfig& config, int64_t now_ms);

}  // namespace mamori::web
