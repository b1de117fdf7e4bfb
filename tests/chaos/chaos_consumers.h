// The chaos and failover runs' consumer processes: this program in `consume`
// mode (chaos_consumer.cc), one log file per incarnation, in one group.

#ifndef EVBUS_TESTS_CHAOS_CHAOS_CONSUMERS_H_
#define EVBUS_TESTS_CHAOS_CHAOS_CONSUMERS_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "chaos/chaos.h"

namespace evbus::chaos {

class Consumers {
 public:
  using Clock = std::chrono::steady_clock;
  Consumers(const Options& o, std::string self, std::string dir)
      : o_(o), self_(std::move(self)), dir_(std::move(dir)) {}
  ~Consumers() {
    for (pid_t p : pids_) {
      if (p > 0) kill(p, SIGKILL), waitpid(p, nullptr, 0);
    }
  }

  void Spawn(size_t slot) {
    const int64_t inc = ++incarnations_;
    const std::string log = dir_ + "/consumer-" + std::to_string(inc) + ".log";
    logs_.push_back(log);
    std::vector<std::string> args = {self_,           "consume",
                                     "--transport",   o_.transport,
                                     "--address",     o_.address,
                                     "--topic",       o_.topic,
                                     "--group",       o_.group,
                                     "--log",         log,
                                     "--incarnation", std::to_string(inc),
                                     "--handle-us",   std::to_string(o_.handle_us)};
    if (o_.cluster) args.push_back("--cluster");
    std::vector<char*> argv;  // built before fork: the child only execs
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
      execv(self_.c_str(), argv.data());
      _exit(127);
    }
    if (slot >= pids_.size()) pids_.resize(slot + 1, -1), slot_logs_.resize(slot + 1);
    pids_[slot] = pid;
    slot_logs_[slot] = log;
  }

  // A random slot whose consumer has handled something in this incarnation,
  // so that a kill hits one with work in flight rather than one still
  // joining its group (or, on NATS, standing by without a partition);
  // waits for one at most `timeout`, then any slot. `busy` says which.
  size_t PickVictim(std::mt19937_64& rng, std::chrono::seconds timeout, bool* busy) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      std::vector<size_t> handling;
      for (size_t s = 0; s < slot_logs_.size(); ++s) {
        std::error_code ec;
        // Another process's file: no event to wait on; look at its size.
        if (std::filesystem::file_size(slot_logs_[s], ec) > 0 && !ec) handling.push_back(s);
      }
      *busy = !handling.empty();
      if (*busy || Clock::now() >= deadline) {
        const size_t n = *busy ? handling.size() : slot_logs_.size();
        const size_t i = std::uniform_int_distribution<size_t>(0, n - 1)(rng);
        return *busy ? handling[i] : i;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  void KillAndRespawn(size_t slot) {
    kill(pids_[slot], SIGKILL);
    waitpid(pids_[slot], nullptr, 0);
    pids_[slot] = -1;
    Spawn(slot);
  }

  // SIGTERM to every consumer; how many closed cleanly (exit 0) in time.
  int StopAll(std::chrono::seconds timeout) {
    for (pid_t p : pids_) kill(p, SIGTERM);
    const auto deadline = Clock::now() + timeout;
    int clean = 0;
    for (pid_t& p : pids_) {
      int status = 0;
      pid_t r = 0;
      // Child exit has no event a thread can wait on with a deadline; poll it.
      while ((r = waitpid(p, &status, WNOHANG)) == 0 && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (r == p && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        ++clean;
      } else {
        std::fprintf(stderr, "chaos: consumer %d did not close cleanly (status %d)\n", p, status);
        if (r == 0) kill(p, SIGKILL), waitpid(p, nullptr, 0);
      }
      p = -1;
    }
    return clean;
  }

  size_t size() const { return pids_.size(); }
  const std::vector<std::string>& logs() const { return logs_; }
  int64_t incarnations() const { return incarnations_; }

 private:
  Options o_;
  std::string self_;
  std::string dir_;
  std::vector<pid_t> pids_;
  std::vector<std::string> slot_logs_;  // the log of each slot's current incarnation
  std::vector<std::string> logs_;
  int64_t incarnations_ = 0;
};

}  // namespace evbus::chaos

#endif  // EVBUS_TESTS_CHAOS_CHAOS_CONSUMERS_H_
