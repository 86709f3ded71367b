#include "broker/loop_tasks.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace sb {

LoopTasks::LoopTasks() : wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

LoopTasks::~LoopTasks() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

bool LoopTasks::Post(std::function<void()> task) {
  {
    MutexLock lock(mu_);
    if (!running_) return false;
    queue_.push_back(std::move(task));
  }
  uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
  return true;
}

void LoopTasks::Start() {
  MutexLock inline_lock(inline_mu_);
  MutexLock lock(mu_);
  running_ = true;
  loop_thread_ = std::this_thread::get_id();
}

void LoopTasks::Finish() {
  {
    MutexLock lock(mu_);
    running_ = false;
  }
  // What was posted before the flag fell; nothing can be posted after it.
  RunPending();
  MutexLock lock(mu_);
  loop_thread_ = std::thread::id();
}

size_t LoopTasks::RunPending() {
  if (wake_fd_ >= 0) {
    uint64_t n;
    (void)!::read(wake_fd_, &n, sizeof n);
  }
  std::deque<std::function<void()>> batch;
  {
    MutexLock lock(mu_);
    batch.swap(queue_);
  }
  // A task's exception travels to its caller through its packaged_task, so none escapes here.
  for (auto& task : batch) task();
  return batch.size();
}

bool LoopTasks::OnLoop() const {
  MutexLock lock(mu_);
  return running_ && loop_thread_ == std::this_thread::get_id();
}

}  // namespace sb
