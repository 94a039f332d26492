#include "http/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <Poco/Logger.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace agent {

namespace {
[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }
}  // namespace

EventLoop::EventLoop(std::function<void()> tick, std::chrono::milliseconds tick_interval)
    : tick_(std::move(tick)), tick_interval_(tick_interval) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) fail("epoll_create1");
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    ::close(epoll_fd_);
    fail("eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = static_cast<uint64_t>(wake_fd_);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
}

EventLoop::~EventLoop() {
  stop();
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

void EventLoop::add(int fd, uint32_t events, Handler handler) {
  if (fd < 0) throw std::invalid_argument("EventLoop::add: no descriptor");
  if (static_cast<size_t>(fd) >= slots_.size()) slots_.resize(static_cast<size_t>(fd) + 1);
  auto& slot = slots_[static_cast<size_t>(fd)];
  slot.handler = std::move(handler);
  slot.generation = ++next_generation_;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = (static_cast<uint64_t>(slot.generation) << 32) | static_cast<uint32_t>(fd);
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    slot.handler = nullptr;
    fail("epoll_ctl add");
  }
}

void EventLoop::modify(int fd, uint32_t events) {
  if (fd < 0 || static_cast<size_t>(fd) >= slots_.size()) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = (static_cast<uint64_t>(slots_[static_cast<size_t>(fd)].generation) << 32) | static_cast<uint32_t>(fd);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
}

void EventLoop::remove(int fd) {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  if (fd >= 0 && static_cast<size_t>(fd) < slots_.size()) slots_[static_cast<size_t>(fd)] = Slot{};
}

void EventLoop::post(std::function<void()> work) {
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    posted_.push_back(std::move(work));
  }
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void EventLoop::start() { thread_ = std::thread([this] { run(); }); }

void EventLoop::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  thread_.join();
}

void EventLoop::run_posted() {
  std::vector<std::function<void()>> work;
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    work.swap(posted_);
  }
  for (auto& w : work) guarded(w);
}

// One part's failure (an exception out of a handler) must not end the loop that every other
// connection depends on.
void EventLoop::guarded(const std::function<void()>& work) {
  try {
    work();
  } catch (const std::exception& e) {
    Poco::Logger::get("http").error(std::string("event loop: ") + e.what());
  } catch (...) {
    Poco::Logger::get("http").error("event loop: unknown exception");
  }
}

void EventLoop::run() {
  constexpr int kBatch = 256;
  epoll_event events[kBatch];
  auto next_tick = std::chrono::steady_clock::now() + tick_interval_;
  while (!stopping_) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - std::chrono::steady_clock::now()).count();
    int n = ::epoll_wait(epoll_fd_, events, kBatch, static_cast<int>(wait < 0 ? 0 : wait));
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n && !stopping_; ++i) {
      int fd = static_cast<int>(events[i].data.u64 & 0xffffffffu);
      auto generation = static_cast<uint32_t>(events[i].data.u64 >> 32);
      if (fd == wake_fd_) {
        uint64_t count;
        [[maybe_unused]] auto r = ::read(wake_fd_, &count, sizeof count);
        continue;
      }
      // A handler may remove this or another descriptor: look it up each time, and copy it so that
      // removing itself does not destroy the function while it runs.
      if (static_cast<size_t>(fd) >= slots_.size()) continue;
      const auto& slot = slots_[static_cast<size_t>(fd)];
      if (!slot.handler || slot.generation != generation) continue;
      Handler handler = slot.handler;
      uint32_t ready = events[i].events;
      guarded([&] { handler(ready); });
    }
    run_posted();
    if (std::chrono::steady_clock::now() >= next_tick) {
      if (tick_) guarded(tick_);
      next_tick = std::chrono::steady_clock::now() + tick_interval_;
    }
  }
}

}  // namespace agent
