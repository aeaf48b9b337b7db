#pragma once

#include "common/device/event.h"
#include "common/device/terminal_state.h"

namespace mamori {

// Everything an agent sends is untrusted: a compromised terminal or a hostile
// USB device controls these strings. Before anything is stored, every string
// is made valid UTF-8 without control characters and bounded in length.
void SanitizeDevice(Device& device);
void SanitizeState(TerminalState& state);
void SanitizeEvent(Event& event);

}  // namespace mamori
