#include "apps/bridge_address.h"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace agent {

bool pin_bridge_address(const std::string& interface_name) {
  if (interface_name.empty() || interface_name.size() >= IFNAMSIZ || interface_name.find('/') != std::string::npos) return false;
  std::ifstream type_file("/sys/class/net/" + interface_name + "/addr_assign_type");
  int type = -1;
  if (!(type_file >> type)) return false;  // no such interface (yet)
  constexpr int kAddressSet = 3;           // NET_ADDR_SET: assigned by user space, never recomputed
  if (type == kAddressSet) return false;

  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  struct ifreq request {};
  std::strncpy(request.ifr_name, interface_name.c_str(), IFNAMSIZ - 1);
  bool ok = ::ioctl(fd, SIOCGIFHWADDR, &request) == 0 && ::ioctl(fd, SIOCSIFHWADDR, &request) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok) throw std::runtime_error("cannot pin the address of " + interface_name + ": " + std::strerror(saved));
  return true;
}

}  // namespace agent
