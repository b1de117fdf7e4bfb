#include "transport/nats/nats_runtime.h"

#include <nats/nats.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "transport/nats/nats_common.h"

namespace evbus::transport::nats {
namespace {

constexpr int64_t kCloseWaitMs = 10'000;

struct RuntimeState {
  std::mutex mu;  // held across nats_Open / nats_CloseAndWait: they must not overlap
  int refs = 0;
  core::ThreadClaims threads{"cnats", kCnatsThreadName};  // the library's own, owned by no bus
};

RuntimeState& State() {
  static RuntimeState* state = new RuntimeState();  // never destroyed: used at exit
  return *state;
}

}  // namespace

std::shared_ptr<core::ThreadClaims> NewCnatsClaims() {
  return std::make_shared<core::ThreadClaims>("cnats", kCnatsThreadName);
}

Status NatsRuntime::Acquire() {
  RuntimeState& st = State();
  std::lock_guard<std::mutex> attribution(core::ClaimWindowMutex());
  std::lock_guard<std::mutex> lock(st.mu);
  if (st.refs == 0) {
    const std::set<int> before = core::ListTasks();
    if (natsStatus s = nats_Open(-1); s != NATS_OK) return NatsError("nats_Open", s);
    st.threads.ClaimNew(before, 0);
  }
  ++st.refs;
  return Status();
}

void NatsRuntime::Release() {
  RuntimeState& st = State();
  std::lock_guard<std::mutex> lock(st.mu);
  if (--st.refs > 0) return;
  natsStatus s = nats_CloseAndWait(kCloseWaitMs);
  if (s != NATS_OK) {
    std::fprintf(stderr, "evbus: nats_CloseAndWait: %s; cnats threads may remain\n",
                 natsStatus_GetText(s));
  }
  st.threads.ReleaseAll();
}

}  // namespace evbus::transport::nats
