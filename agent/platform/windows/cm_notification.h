#pragma once

#include "agent/platform/windows/handles.h"
#include "common/result.h"

namespace mamori {

// True when this Windows has CM_Register_Notification (Windows 8 and later;
// not Wine 8).
bool CmNotificationAvailable();

// Registers `callback` for the PnP events `filter` selects. The callback
// runs on a system thread pool thread and must not block: it only queues
// work. kUnavailable when the API is missing.
Result<UniqueCmNotification> RegisterCmNotification(const CM_NOTIFY_FILTER& filter, void* context,
                                                    PCM_NOTIFY_CALLBACK callback);

}  // namespace mamori
