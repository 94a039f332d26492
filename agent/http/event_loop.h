// One thread that waits on many sockets at once (epoll). Parts register a file descriptor with a
// handler; the loop calls the handler on the loop thread when the descriptor is ready. Other
// threads hand work to the loop with post(). A connection waiting here holds no thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace agent {

class EventLoop {
 public:
  // events: EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLRDHUP as the kernel reports them.
  using Handler = std::function<void(uint32_t events)>;

  // tick runs on the loop thread about every tick_interval (deadlines are checked there).
  EventLoop(std::function<void()> tick, std::chrono::milliseconds tick_interval);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Loop thread only. The handler stays registered until remove(fd), which must come before the
  // descriptor is closed.
  void add(int fd, uint32_t events, Handler handler);
  void modify(int fd, uint32_t events);
  void remove(int fd);

  // Any thread: runs `work` on the loop thread, soon.
  void post(std::function<void()> work);

  void start();  // the loop thread
  void stop();   // returns once the loop thread has ended; posted work left over is dropped

 private:
  void run();
  void run_posted();
  static void guarded(const std::function<void()>& work);

  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: post() and stop() wake the loop with it
  std::function<void()> tick_;
  std::chrono::milliseconds tick_interval_;
  struct Slot {
    Handler handler;
    uint32_t generation = 0;  // events queued for a descriptor number that was reused are dropped
  };
  std::vector<Slot> slots_;  // by file descriptor
  uint32_t next_generation_ = 0;
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace agent
