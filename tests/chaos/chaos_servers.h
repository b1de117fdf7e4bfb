// The chaos and failover runs' servers: one Kafka broker or NATS server, or a
// three-node cluster of either, driven by the project's scripts
// (scripts/kafka, scripts/nats) on free ports, and torn down (directories
// deleted) when this goes out of scope.

#ifndef EVBUS_TESTS_CHAOS_CHAOS_SERVERS_H_
#define EVBUS_TESTS_CHAOS_CHAOS_SERVERS_H_

#include <cstdio>
#include <string>

#include "free_port.h"

namespace evbus::chaos {

class Servers {
 public:
  Servers(const std::string& transport, bool cluster) : transport_(transport), cluster_(cluster) {
    using evbus::test::FreePort;
    const auto port = [] { return std::to_string(FreePort()); };
    const auto three = [&] { return port() + "," + port() + "," + port(); };
    if (!cluster) {
      const std::string a = port(), b = port();
      env_ = transport == "kafka" ? "EVBUS_KAFKA_PORT=" + a + " EVBUS_KAFKA_CONTROLLER_PORT=" + b
                                  : "EVBUS_NATS_PORT=" + a + " EVBUS_NATS_MONITOR_PORT=" + b +
                                        " EVBUS_NATS_DIR=/tmp/evbus-chaos-nats-" + a;
    } else if (transport == "kafka") {
      env_ = "EVBUS_KAFKA_CLUSTER_PORTS=" + three() +
             " EVBUS_KAFKA_CLUSTER_CONTROLLER_PORTS=" + three();
    } else {
      env_ = "EVBUS_NATS_CLUSTER_PORTS=" + three() +
             " EVBUS_NATS_CLUSTER_MONITOR_PORTS=" + three() +
             " EVBUS_NATS_CLUSTER_ROUTE_PORTS=" + three();
    }
  }
  ~Servers() {
    if (up_) (void)Run("down");
  }
  Servers(const Servers&) = delete;
  Servers& operator=(const Servers&) = delete;

  // Starts them; the address (a cluster's: comma-separated), or empty on
  // failure (the script's output printed).
  std::string Up() {
    std::string out = Run("up");
    up_ = !out.empty();
    return out;
  }
  // One server: stop it and start it again. Cluster: node N (1..3) only.
  bool Restart() { return !Run("restart").empty(); }
  bool Kill(int node) { return !Run("kill " + std::to_string(node)).empty(); }  // SIGKILL
  bool Stop(int node) { return !Run("stop " + std::to_string(node)).empty(); }  // SIGTERM
  bool Start(int node) { return !Run("start " + std::to_string(node)).empty(); }

 private:
  // Runs `scripts/<transport> [cluster] verb`; its last output line, or "" if
  // it failed.
  std::string Run(const std::string& verb) {
    const std::string command = env_ + " " EVBUS_SOURCE_DIR "/scripts/" + transport_ +
                                (cluster_ ? " cluster " : " ") + verb + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return "";
    std::string out, last;
    char buf[512];
    while (fgets(buf, sizeof(buf), pipe) != nullptr) {
      out += buf;
      last = buf;
    }
    if (pclose(pipe) != 0) {
      std::fprintf(stderr, "chaos: %s failed:\n%s", command.c_str(), out.c_str());
      return "";
    }
    while (!last.empty() && (last.back() == '\n' || last.back() == '\r')) last.pop_back();
    return last.empty() ? "ok" : last;
  }

  std::string transport_;
  bool cluster_;
  std::string env_;
  bool up_ = false;
};

}  // namespace evbus::chaos

#endif  // EVBUS_TESTS_CHAOS_CHAOS_SERVERS_H_
