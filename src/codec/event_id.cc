// UUIDv7 event ids (RFC 9562 §5.7): 48-bit Unix milliseconds, then 12 bits
// of sub-millisecond counter ("method 1" of §6.2) so ids from one process
// strictly increase, then 62 random bits.

#include <atomic>
#include <chrono>
#include <random>

#include "evbus/envelope.h"

namespace evbus {
namespace {

// (unix_ms << 12 | counter), advanced with compare-exchange so concurrent
// callers never share a value; when the counter overflows, the clock part is
// borrowed forward by a millisecond (still monotonic, still near real time).
std::atomic<uint64_t> g_last_stamp{0};

uint64_t NextStamp() {
  const uint64_t now_ms =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  uint64_t last = g_last_stamp.load(std::memory_order_relaxed);
  for (;;) {
    const uint64_t candidate = std::max(now_ms << 12, last + 1);
    if (g_last_stamp.compare_exchange_weak(last, candidate, std::memory_order_relaxed)) {
      return candidate;
    }
  }
}

uint64_t RandomBits() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

}  // namespace

std::string NewEventId() {
  const uint64_t stamp = NextStamp();
  const uint64_t ms = stamp >> 12;
  const uint64_t counter = stamp & 0xFFF;
  const uint64_t hi = (ms << 16) | (0x7ULL << 12) | counter;        // time, version 7, rand_a
  const uint64_t lo = (RandomBits() >> 2) | 0x8000000000000000ULL;  // variant 10, rand_b

  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  int pos = 0;
  auto put = [&](uint64_t word, int nibbles_from, int count) {
    for (int i = 0; i < count; ++i) {
      if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
      const int shift = (15 - (nibbles_from + i)) * 4;
      out[static_cast<size_t>(pos++)] = kHex[(word >> shift) & 0xF];
    }
  };
  put(hi, 0, 16);
  put(lo, 0, 16);
  return out;
}

}  // namespace evbus
