// The decision's interface list on its way from the agent's report into the
// collector: wire conversion both ways and the bound on untrusted input.
#include <gtest/gtest.h>

#include <vector>

#include "proto/wire/admin_views.h"
#include "proto/wire/convert.h"
#include "server/ingest/report_sanitizer.h"

namespace mamori {
namespace {

using Classes = std::vector<DeviceClass>;

Device BlockedComposite() {
  Device d;
  d.device_id = "combo";
  d.identity.interface_classes = {DeviceClass::kHid, DeviceClass::kMassStorage};
  d.decision.action = Action::kBlock;
  d.decision.matched_rule = "default";
  d.decision.allowed_interface_classes = {DeviceClass::kPrinter, DeviceClass::kHid};
  d.decision.enforced = true;
  return d;
}

TEST(DecisionWireTest, AllowedInterfaceClassesSurviveTheWireBothWays) {
  v1::Device wire;
  ToProto(BlockedComposite(), &wire);
  ASSERT_EQ(wire.decision().allowed_interface_classes_size(), 2);
  EXPECT_EQ(wire.decision().allowed_interface_classes(0), v1::DEVICE_CLASS_PRINTER);
  EXPECT_EQ(wire.decision().allowed_interface_classes(1), v1::DEVICE_CLASS_HID);

  const Device back = FromProto(wire);
  EXPECT_EQ(back.decision.action, Action::kBlock);
  EXPECT_EQ(back.decision.matched_rule, "default");
  EXPECT_TRUE(back.decision.enforced);
  EXPECT_EQ(back.decision.allowed_interface_classes,
            (Classes{DeviceClass::kPrinter, DeviceClass::kHid}));

  // Admin views carry it too (terminal detail, events).
  v1::DeviceView view;
  ToView(back, &view);
  ASSERT_EQ(view.decision().allowed_interface_classes_size(), 2);
  EXPECT_EQ(view.decision().allowed_interface_classes(1), v1::DEVICE_CLASS_HID);
}

TEST(DecisionWireTest, UnknownClassNumberReadsAsOther) {
  // A newer agent may send a class this collector does not know; it must
  // not become "unspecified" or a value outside the domain enum.
  v1::Decision wire;
  wire.set_action(v1::ACTION_BLOCK);
  wire.add_allowed_interface_classes(v1::DEVICE_CLASS_HID);
  wire.add_allowed_interface_classes(static_cast<v1::DeviceClass>(4242));
  wire.add_allowed_interface_classes(static_cast<v1::DeviceClass>(-1));
  const Decision d = FromProto(wire);
  EXPECT_EQ(d.allowed_interface_classes,
            (Classes{DeviceClass::kHid, DeviceClass::kOther, DeviceClass::kOther}));
}

TEST(DecisionWireTest, SanitizerBoundsTheList) {
  Device d = BlockedComposite();
  d.decision.allowed_interface_classes.assign(1000, DeviceClass::kHid);
  SanitizeDevice(d);
  EXPECT_EQ(d.decision.allowed_interface_classes.size(), 32u);

  Device small = BlockedComposite();
  SanitizeDevice(small);
  EXPECT_EQ(small.decision.allowed_interface_classes,
            (Classes{DeviceClass::kPrinter, DeviceClass::kHid}));
}

}  // namespace
}  // namespace mamori
