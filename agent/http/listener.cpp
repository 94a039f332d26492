#include "http/listener.h"

#include <Poco/Logger.h>
#include <Poco/Net/SocketAddress.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "http/event_loop.h"

namespace agent {

namespace {
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
}

Listener::Listener(const Options& options) {
  std::string where = options.host + ":" + std::to_string(options.port);
  Poco::Net::SocketAddress address;
  try {
    address = Poco::Net::SocketAddress(options.host, static_cast<Poco::UInt16>(options.port));
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot listen on " + where + ": " + e.what());
  }
  fd_ = ::socket(address.family() == Poco::Net::AddressFamily::IPv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("cannot listen on " + where + ": " + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (options.freebind) ::setsockopt(fd_, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
  if (::bind(fd_, address.addr(), address.length()) != 0 || ::listen(fd_, options.backlog) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd_);
    throw std::runtime_error("cannot listen on " + where + ": " + why);
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &length);
  port_ = Poco::Net::SocketAddress(reinterpret_cast<const sockaddr*>(&bound), length).port();
}

Listener::~Listener() {
  if (fd_ >= 0) ::close(fd_);
}

void Listener::start(EventLoop& loop, Admit admit, Accepted accepted) {
  loop_ = &loop;
  admit_ = std::move(admit);
  accepted_ = std::move(accepted);
  loop_->add(fd_, EPOLLIN, [this](uint32_t) { accept_all(); });
}

void Listener::stop() {
  if (fd_ < 0) return;
  if (loop_) loop_->remove(fd_);
  ::close(fd_);
  fd_ = -1;
}

void Listener::tick(std::chrono::steady_clock::time_point now) {
  if (paused_until_ && now >= *paused_until_ && fd_ >= 0) {
    paused_until_.reset();
    loop_->modify(fd_, EPOLLIN);
  }
}

void Listener::accept_all() {
  for (;;) {
    Peer peer;
    peer.length = sizeof peer.address;
    int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer.address), &peer.length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        Poco::Logger::get("http").warning("accept on port " + std::to_string(port_) + ": out of file descriptors; new connections wait a moment");
        loop_->modify(fd_, 0);
        paused_until_ = std::chrono::steady_clock::now() + kAcceptPause;
      }
      return;
    }
    if (!admit_()) {
      ::close(fd);
      continue;
    }
    accepted_(fd, peer);
  }
}

}  // namespace agent
