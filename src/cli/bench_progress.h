// A live progress line (done, rate, ETA) on stderr, only when stderr is a
// terminal: a redirected run stays quiet and its logs clean.

#ifndef EVBUS_CLI_BENCH_PROGRESS_H_
#define EVBUS_CLI_BENCH_PROGRESS_H_

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace evbus::cli {

// Not thread-safe: one producer thread calls Update.
class Progress {
 public:
  // `unit`: what is counted, for the rate ("msg/s", "cycles/s").
  Progress(std::string label, int64_t total, std::string unit = "msg")
      : label_(std::move(label)),
        unit_(std::move(unit)),
        total_(total),
        active_(isatty(STDERR_FILENO) != 0) {}
  ~Progress() {
    if (active_ && printed_) std::fprintf(stderr, "\r\033[K");  // clear the line
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void Update(int64_t done) {
    if (!active_) return;
    const auto now = Clock::now();
    if (printed_ && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    printed_ = true;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0;
    std::fprintf(stderr, "\r\033[K%s: %lld/%lld (%.0f%%) %.0f %s/s, ETA %.0f s", label_.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total_),
                 100.0 * static_cast<double>(done) / static_cast<double>(total_), rate,
                 unit_.c_str(), eta);
    std::fflush(stderr);
  }

 private:
  using Clock = std::chrono::steady_clock;
  const std::string label_;
  const std::string unit_;
  const int64_t total_;
  const bool active_;
  bool printed_ = false;
  const Clock::time_point start_ = Clock::now();
  Clock::time_point last_{};
};

}  // namespace evbus::cli

#endif  // EVBUS_CLI_BENCH_PROGRESS_H_
