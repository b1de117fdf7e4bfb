#include "core/reaper.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "core/thread.h"

namespace evbus::core {
namespace {

class Reapers {
 public:
  static Reapers& Instance() {
    static Reapers reapers;  // destroyed at exit: joins what is still closing
    return reapers;
  }

  void Start(uint64_t bus_id, std::function<void()> work) {
    std::vector<Reaper> ended;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = reapers_.begin(); it != reapers_.end();) {
        if (it->done->load(std::memory_order_acquire)) {
          ended.push_back(std::move(*it));
          it = reapers_.erase(it);
        } else {
          ++it;
        }
      }
    }
    ended.clear();  // joins them, outside the lock (they have already returned)
    auto done = std::make_shared<std::atomic<bool>>(false);
    Thread t = Thread::Start("evb-reaper", "reaper", bus_id, [work = std::move(work), done] {
      work();
      done->store(true, std::memory_order_release);
    });
    std::lock_guard<std::mutex> lock(mu_);
    reapers_.push_back(Reaper{std::move(t), std::move(done)});
  }

  ~Reapers() {
    std::vector<Reaper> all;
    {
      std::lock_guard<std::mutex> lock(mu_);
      all.swap(reapers_);
    }
  }  // `all` joins each

 private:
  struct Reaper {
    Thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::mutex mu_;
  std::vector<Reaper> reapers_;
};

}  // namespace

void Reap(uint64_t bus_id, std::function<void()> close_and_free) {
  Reapers::Instance().Start(bus_id, std::move(close_and_free));
}

}  // namespace evbus::core
