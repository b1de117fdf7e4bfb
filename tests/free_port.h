// A free TCP port on 127.0.0.1 for a server a test starts of its own (the
// kernel's choice for an ephemeral bind: free when asked, nothing reserves
// it). 0 if none could be had. No gtest here: the chaos driver uses it too.

#ifndef EVBUS_TESTS_FREE_PORT_H_
#define EVBUS_TESTS_FREE_PORT_H_

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace evbus::test {

inline int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) ::close(fd);
  return port;
}

}  // namespace evbus::test

#endif  // EVBUS_TESTS_FREE_PORT_H_
