// Work that other threads hand to the broker's event loop, which alone owns BrokerCore (issue
// 13): the API's and console's threads never touch the core, never hold a lock the loop waits
// for, and never make a synced write of their own; they post a task and wait for its answer.
// The loop wakes on wake_fd() and runs the tasks between two turns (BrokerServer::Loop).
//
//   Result<json> r = tasks.Call([&] { return service.Decide(...); });  // any thread
//   tasks.RunPending();                                                 // the loop's thread
//
// Before the loop starts and after it ends (a server starting up or shutting down, a unit test
// with no loop at all) a Call runs on the caller's thread, one at a time: there is then no other
// owner of the core. Start()/Finish() mark the loop's lifetime; Finish() runs what was posted
// before it, so no caller waits for ever.
#pragma once

#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <type_traits>

#include "base/mutex.h"

namespace sb {

class LoopTasks {
 public:
  LoopTasks();
  ~LoopTasks();
  LoopTasks(const LoopTasks&) = delete;
  LoopTasks& operator=(const LoopTasks&) = delete;

  // An eventfd that is readable while tasks wait (poll it with the loop's sockets); -1 if the
  // kernel refused one, in which case the loop finds tasks at its next turn (≤ its poll
  // timeout).
  int wake_fd() const { return wake_fd_; }

  // Runs `fn` on the loop's thread (or inline when no loop runs) and returns what it returns;
  // an exception it throws is rethrown here. Must not be called from inside a task.
  template <typename Fn>
  auto Call(Fn&& fn) -> std::invoke_result_t<Fn&> {
    using R = std::invoke_result_t<Fn&>;
    std::packaged_task<R()> task(std::forward<Fn>(fn));
    std::future<R> done = task.get_future();
    if (!Post([&task] { task(); })) {
      // No loop: run here, one caller at a time and never beside a loop that is starting.
      MutexLock inline_lock(inline_mu_);
      if (Post([&task] { task(); })) return done.get();  // the loop started meanwhile
      task();
    }
    return done.get();
  }

  // On the loop's thread: marks the loop running (waiting for an inline task to finish).
  void Start();
  // On the loop's thread, as it ends: runs what is queued and marks the loop gone.
  void Finish();
  // On the loop's thread: runs every task posted so far; returns how many ran.
  size_t RunPending();
  // True when called on the thread that runs the loop.
  bool OnLoop() const;

 private:
  // Queues `task` for the loop if it runs; false (and nothing queued) if it does not.
  bool Post(std::function<void()> task);

  int wake_fd_ = -1;
  Mutex inline_mu_;   // one inline task at a time; Start() waits for it
  mutable Mutex mu_;  // taken after inline_mu_ when both are
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);
  bool running_ GUARDED_BY(mu_) = false;
  std::thread::id loop_thread_ GUARDED_BY(mu_);
};

}  // namespace sb
