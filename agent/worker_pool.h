// A fixed upper number of threads that run queued jobs in order. Threads start as the queue needs
// them, up to the limit, and stay; the queue itself has no limit (its length is bounded by the
// connections the server accepts, one request each at a time).
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
  explicit WorkerPool(int max_threads, int stack_bytes = 512 * 1024);
  ~WorkerPool();  // join()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void submit(std::function<void()> job);
  // Runs the jobs already queued, then ends every thread.
  void join();
  int threads() const;

 private:
  void work();

  const int max_threads_;
  const int stack_bytes_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::unique_ptr<Poco::Thread>> threads_;
  int idle_ = 0;
  bool stopping_ = false;
};

}  // namespace agent
