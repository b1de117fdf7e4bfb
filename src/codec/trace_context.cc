// W3C Trace Context: traceparent parsing and formatting, tracestate checks,
// random ids. The rules are those of https://www.w3.org/TR/trace-context/.

#include "evbus/trace_context.h"

#include <algorithm>
#include <array>
#include <random>
#include <set>

namespace evbus {
namespace {

constexpr size_t kTraceparentSize = 55;  // "00-" + 32 + "-" + 16 + "-" + 2
constexpr size_t kMaxTracestateMembers = 32;

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool IsLcAlpha(char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsKeyChar(char c) {
  return IsLcAlpha(c) || IsDigit(c) || c == '_' || c == '-' || c == '*' || c == '/';
}

bool AllLowerHex(std::string_view s) { return std::all_of(s.begin(), s.end(), IsLowerHex); }
bool AllZero(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

int HexValue(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x >= 'A' && x <= 'Z' ? x + 32 : x) == (y >= 'A' && y <= 'Z' ? y + 32 : y);
         });
}

// The value as an error message shows it: quoted, long ones cut.
std::string Quoted(std::string_view value) {
  constexpr size_t kShown = 80;
  std::string q = "\"" + std::string(value.substr(0, kShown));
  if (value.size() > kShown) q += "...";
  return q + "\"";
}

// A tracestate key: simple-key, or tenant-id "@" system-id.
bool ValidKey(std::string_view key) {
  const size_t at = key.find('@');
  if (at == std::string_view::npos) {
    return !key.empty() && key.size() <= 256 && IsLcAlpha(key[0]) &&
           std::all_of(key.begin(), key.end(), IsKeyChar);
  }
  const std::string_view tenant = key.substr(0, at);
  const std::string_view system = key.substr(at + 1);
  return !tenant.empty() && tenant.size() <= 241 && (IsLcAlpha(tenant[0]) || IsDigit(tenant[0])) &&
         std::all_of(tenant.begin(), tenant.end(), IsKeyChar) && !system.empty() &&
         system.size() <= 14 && IsLcAlpha(system[0]) &&
         std::all_of(system.begin(), system.end(), IsKeyChar);
}

// A tracestate value: 1..256 printable ASCII characters but ',' and '=',
// not ending in a space.
bool ValidValue(std::string_view value) {
  if (value.empty() || value.size() > 256 || value.back() == ' ') return false;
  return std::all_of(value.begin(), value.end(),
                     [](char c) { return c >= 0x20 && c <= 0x7e && c != ',' && c != '='; });
}

// The list's members without the optional whitespace around them, joined
// by ','; empty when the list is invalid (then the spec drops it).
std::string NormalizeTracestate(std::string_view list) {
  std::string out;
  std::set<std::string_view> keys;
  size_t members = 0;
  while (true) {
    const size_t comma = list.find(',');
    const std::string_view member = TrimOws(list.substr(0, comma));
    if (!member.empty()) {
      const size_t eq = member.find('=');
      if (eq == std::string_view::npos) return "";
      const std::string_view key = member.substr(0, eq);
      if (!ValidKey(key) || !ValidValue(member.substr(eq + 1))) return "";
      if (!keys.insert(key).second || ++members > kMaxTracestateMembers) return "";
      if (!out.empty()) out += ',';
      out += member;
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

std::mt19937_64& Generator() {
  thread_local std::mt19937_64 generator = [] {
    std::random_device rd;
    std::array<uint32_t, 8> seed;
    for (uint32_t& s : seed) s = rd();
    std::seed_seq seq(seed.begin(), seed.end());
    return std::mt19937_64(seq);
  }();
  return generator;
}

// `digits` random lowercase hex digits, not all zero.
std::string RandomHex(size_t digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(digits, '0');
  do {
    for (size_t i = 0; i < digits; i += 16) {
      uint64_t bits = Generator()();
      for (size_t j = i; j < std::min(digits, i + 16); ++j, bits >>= 4) s[j] = kHex[bits & 0xf];
    }
  } while (AllZero(s));
  return s;
}

}  // namespace

Result<TraceContext> TraceContext::Parse(std::string_view traceparent,
                                         std::string_view tracestate) {
  const std::string_view v = TrimOws(traceparent);
  auto bad = [&](const std::string& why) {
    return InvalidArgument("traceparent " + Quoted(traceparent) + ": " + why);
  };
  if (v.size() < 3 || !IsLowerHex(v[0]) || !IsLowerHex(v[1]) || v[2] != '-') {
    return bad("the version is not 2 lowercase hex digits followed by '-'");
  }
  const std::string_view version = v.substr(0, 2);
  if (version == "ff") return bad("version ff is invalid");
  if (version == "00" && v.size() != kTraceparentSize) {
    return bad("version 00 has exactly 55 characters, not " + std::to_string(v.size()));
  }
  if (v.size() < kTraceparentSize) {
    return bad("shorter than the 55 characters of version-trace_id-parent_id-flags");
  }
  // A higher version may go on after the flags, behind a '-'.
  if (v.size() > kTraceparentSize && v[kTraceparentSize] != '-') {
    return bad("the flags are not 2 lowercase hex digits");
  }
  const std::string_view trace_id = v.substr(3, 32);
  const std::string_view parent_id = v.substr(36, 16);
  const std::string_view flags = v.substr(53, 2);
  if (!AllLowerHex(trace_id) || v[35] != '-') {
    return bad("the trace id is not 32 lowercase hex digits followed by '-'");
  }
  if (AllZero(trace_id)) return bad("the trace id is all zeros");
  if (!AllLowerHex(parent_id) || v[52] != '-') {
    return bad("the parent id is not 16 lowercase hex digits followed by '-'");
  }
  if (AllZero(parent_id)) return bad("the parent id is all zeros");
  if (!AllLowerHex(flags)) return bad("the flags are not 2 lowercase hex digits");
  TraceContext c;
  c.trace_id = trace_id;
  c.parent_id = parent_id;
  c.flags = static_cast<uint8_t>(HexValue(flags[0]) * 16 + HexValue(flags[1]));
  // Of a version evbus does not know, only the sampled bit means what it says.
  if (version != "00") c.flags &= kSampled;
  c.tracestate = NormalizeTracestate(tracestate);
  return c;
}

std::optional<TraceContext> TraceContext::FromHeaders(const Headers& headers) {
  const Header* parent = nullptr;
  std::string state;
  for (const Header& h : headers) {
    if (EqualsIgnoreCase(h.key, kTraceparentHeader)) {
      if (parent != nullptr) return std::nullopt;  // two: neither can be trusted
      parent = &h;
    } else if (EqualsIgnoreCase(h.key, kTracestateHeader)) {
      if (!state.empty()) state += ',';
      state += h.value;
    }
  }
  if (parent == nullptr) return std::nullopt;
  Result<TraceContext> c = Parse(parent->value, state);
  if (!c.ok()) return std::nullopt;
  return std::move(c).value();
}

TraceContext TraceContext::New(bool sampled) {
  TraceContext c;
  c.trace_id = RandomHex(32);
  c.parent_id = RandomHex(16);
  c.flags = sampled ? kSampled : 0;
  return c;
}

TraceContext TraceContext::Child() const {
  TraceContext c = *this;
  c.parent_id = RandomHex(16);
  return c;
}

std::string TraceContext::traceparent() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(kTraceparentSize);
  s += "00-";
  s += trace_id;
  s += '-';
  s += parent_id;
  s += '-';
  s += kHex[flags >> 4];
  s += kHex[flags & 0xf];
  return s;
}

void TraceContext::Inject(Headers& headers) const {
  std::erase_if(headers, [](const Header& h) {
    return EqualsIgnoreCase(h.key, kTraceparentHeader) ||
           EqualsIgnoreCase(h.key, kTracestateHeader);
  });
  headers.push_back({kTraceparentHeader, traceparent()});
  if (!tracestate.empty()) headers.push_back({kTracestateHeader, tracestate});
}

}  // namespace evbus
