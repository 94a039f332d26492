// Keeps the MAC address of the apps' host bridge fixed. A Linux bridge whose address was never
// set takes the lowest address among its ports, so removing a container can change it; apps
// then answer the host at the old address and host-side clients (a gateway on the host, the
// readiness probe) stall for seconds until the apps' ARP entries expire. Setting the address
// once, to its current value, stops the kernel from changing it.
#pragma once

#include <string>

namespace agent {

// Pins the bridge's current address. Returns true when it was pinned now, false when it already
// was (or the interface does not exist); throws std::runtime_error when the kernel refuses.
bool pin_bridge_address(const std::string& interface_name);

}  // namespace agent
