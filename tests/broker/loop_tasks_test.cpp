// LoopTasks: work posted from other threads runs on the loop's thread and is answered; with no
// loop it runs on the caller's; a loop that ends answers what was posted before it ended.
#include "broker/loop_tasks.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sb {
namespace {

// A loop like BrokerServer's: waits on the wake fd (or 5 ms), runs what was posted.
class TestLoop {
 public:
  explicit TestLoop(LoopTasks* tasks) : tasks_(tasks) {
    thread_ = std::thread([this] {
      tasks_->Start();
      id_ = std::this_thread::get_id();
      started_ = true;
      while (!stop_) {
        pollfd p{tasks_->wake_fd(), POLLIN, 0};
        (void)::poll(&p, tasks_->wake_fd() >= 0 ? 1 : 0, 5);
        ran_ += tasks_->RunPending();
      }
      tasks_->Finish();
    });
    while (!started_) std::this_thread::yield();
  }
  ~TestLoop() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::thread::id id() const { return id_; }
  size_t ran() const { return ran_; }

 private:
  LoopTasks* tasks_;
  std::thread thread_;
  std::thread::id id_;
  std::atomic<bool> started_{false}, stop_{false};
  std::atomic<size_t> ran_{0};
};

TEST(LoopTasksTest, WithNoLoopACallRunsOnTheCallersThread) {
  LoopTasks tasks;
  std::thread::id where;
  int got = tasks.Call([&] {
    where = std::this_thread::get_id();
    return 42;
  });
  EXPECT_EQ(got, 42);
  EXPECT_EQ(where, std::this_thread::get_id());
  EXPECT_FALSE(tasks.OnLoop());
}

TEST(LoopTasksTest, CallsFromManyThreadsRunOnTheLoopOneAtATime) {
  LoopTasks tasks;
  TestLoop loop(&tasks);
  // Not atomic on purpose: only the loop's thread may touch it (ThreadSanitizer would say).
  int owned_by_loop = 0;
  std::atomic<int> off_loop{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        int seen = tasks.Call([&] {
          if (std::this_thread::get_id() != loop.id() || !tasks.OnLoop()) ++off_loop;
          return ++owned_by_loop;
        });
        if (seen <= 0) ++off_loop;
      }
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(off_loop.load(), 0);
  EXPECT_EQ(tasks.Call([&] { return owned_by_loop; }), 800);
  EXPECT_GE(loop.ran(), 800u);
}

TEST(LoopTasksTest, AnExceptionReachesTheCaller) {
  LoopTasks tasks;
  TestLoop loop(&tasks);
  EXPECT_THROW(tasks.Call([]() -> int { throw std::runtime_error("no"); }), std::runtime_error);
  EXPECT_EQ(tasks.Call([] { return std::string("still serving"); }), "still serving");
}

TEST(LoopTasksTest, ALoopThatEndsAnswersWhatWasPostedAndLaterCallsRunInline) {
  LoopTasks tasks;
  std::atomic<int> answered{0};
  {
    TestLoop loop(&tasks);
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; ++t) {
      callers.emplace_back([&] {
        for (int i = 0; i < 100; ++i) answered += tasks.Call([] { return 1; });
      });
    }
    loop.Stop();  // while the callers are still calling
    for (auto& c : callers) c.join();
  }
  EXPECT_EQ(answered.load(), 400);
  std::thread::id where;
  tasks.Call([&] { where = std::this_thread::get_id(); });
  EXPECT_EQ(where, std::this_thread::get_id());
}

TEST(LoopTasksTest, ALoopStartsOnlyAfterTheInlineCallInProgress) {
  LoopTasks tasks;
  std::atomic<bool> inside{false}, release{false}, started{false};
  std::thread caller([&] {
    tasks.Call([&] {
      inside = true;
      while (!release) std::this_thread::yield();
    });
  });
  while (!inside) std::this_thread::yield();
  std::thread loop([&] {
    tasks.Start();
    started = true;
    tasks.Finish();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(started.load()) << "the loop started beside a task running inline";
  release = true;
  caller.join();
  loop.join();
  EXPECT_TRUE(started.load());
}

}  // namespace
}  // namespace sb
