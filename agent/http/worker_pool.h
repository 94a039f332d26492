// A fixed number of threads, all started at once, that run queued jobs in order: the process's
// thread count does not move with load. The queue itself has no limit (its length is bounded by
// the connections the server accepts, one request each at a time).
#pragma once

#include <Poco/Thread.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace agent {

class WorkerPool {
 public:
  explicit WorkerPool(int threads, int stack_bytes = 512 * 1024);
  ~WorkerPool();  // join()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void submit(std::function<void()> job);
  // Drops the jobs not started, waits for those running, and ends every thread.
  void join();

 private:
  void work();

  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::unique_ptr<Poco::Thread>> threads_;
  bool stopping_ = false;
};

}  // namespace agent
