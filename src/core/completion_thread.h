// Which threads deliver publish completions. A synchronous publish waits for
// a completion, so on such a thread it would wait for itself (Kafka's
// "evb-kprod" serves every delivery report; cnats has one ack thread); it
// checks OnCompletionThread() and fails with WouldDeadlock instead.

#ifndef EVBUS_CORE_COMPLETION_THREAD_H_
#define EVBUS_CORE_COMPLETION_THREAD_H_

namespace evbus::core {

namespace completion_internal {
inline int& Depth() {
  thread_local int depth = 0;  // > 0: completions are delivered on this thread now
  return depth;
}
inline bool& Dedicated() {
  thread_local bool dedicated = false;  // every completion of a producer runs here
  return dedicated;
}
}  // namespace completion_internal

// For the rest of the calling thread's life (a transport's delivery thread).
inline void MarkCompletionThread() { completion_internal::Dedicated() = true; }

// While it lives, the calling thread is running a publish's callbacks.
class CompletionScope {
 public:
  CompletionScope() { ++completion_internal::Depth(); }
  ~CompletionScope() { --completion_internal::Depth(); }
  CompletionScope(const CompletionScope&) = delete;
  CompletionScope& operator=(const CompletionScope&) = delete;
};

inline bool OnCompletionThread() {
  return completion_internal::Dedicated() || completion_internal::Depth() > 0;
}

}  // namespace evbus::core

#endif  // EVBUS_CORE_COMPLETION_THREAD_H_
